"""The platform figures of the analytics pages, rolled up per local day and institution.

- ``platform_daily``: payments created that day (count and IDR volume) and approval requests
  decided that day, per institution (0 stands for requests of no institution);
- ``platform_turnaround_daily``: the decided requests per turnaround bucket (requested →
  decided, app/analytics/histogram.py), so p50/p95 over a year read a few thousand rows and are
  within 2.5 % of the exact nearest-rank value;
- ``platform_turnaround_monthly``: the same summed per calendar month, refreshed with each of its
  days, so a year's percentiles read whole months from it and only the days at the ends daily.

The platform's rows are kept (no raw retention applies), so any past day can be rolled up again;
:func:`rollup_platform_day` replaces the day's rows (idempotent).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import delete, func, insert, select

from app.analytics import histogram
from app.analytics.models import PlatformDaily, PlatformTurnaround, PlatformTurnaroundMonth
from app.extensions import db
from app.inputs import day_bounds
from app.platform.models import Approval, DecisionStatus, Transaction

NO_INSTITUTION = 0


def rollup_platform_day(day: date) -> int:
    """Replace ``day``'s platform rows (on the caller's transaction); returns how many were written."""
    start, end = day_bounds(day, day, current_app.config["BABEL_DEFAULT_TIMEZONE"])
    figures: dict[int, dict] = {}

    def row(institution_id: int | None) -> dict:
        key = institution_id or NO_INSTITUTION
        return figures.setdefault(key, {"day": day, "institution_id": key, "transactions": 0, "volume_idr": 0,
                                        "approvals_decided": 0})

    for institution_id, count, volume in db.session.execute(
            select(Transaction.institution_id, func.count(), func.coalesce(func.sum(Transaction.amount_idr), 0))
            .where(Transaction.created_at >= start, Transaction.created_at < end)
            .group_by(Transaction.institution_id)):
        row(institution_id).update(transactions=count, volume_idr=int(volume))
    buckets: Counter = Counter()
    for institution_id, requested_at, decided_at in db.session.execute(
            select(Approval.institution_id, Approval.requested_at, Approval.decided_at)
            .where(Approval.decided_at >= start, Approval.decided_at < end,
                   Approval.status != DecisionStatus.PENDING.value)):
        row(institution_id)["approvals_decided"] += 1
        seconds = (decided_at - requested_at).total_seconds() if requested_at else 0
        buckets[(institution_id or NO_INSTITUTION, histogram.bucket_of(seconds))] += 1
    db.session.execute(delete(PlatformDaily).where(PlatformDaily.day == day))
    db.session.execute(delete(PlatformTurnaround).where(PlatformTurnaround.day == day))
    if figures:
        db.session.execute(insert(PlatformDaily), list(figures.values()))
    if buckets:
        db.session.execute(insert(PlatformTurnaround), [
            {"day": day, "institution_id": inst, "bucket": bucket, "approvals": count}
            for (inst, bucket), count in sorted(buckets.items())])
    return len(figures) + len(buckets) + refresh_turnaround_month(day)


def month_bounds(day: date) -> tuple[date, date]:
    """The first and last day of ``day``'s calendar month."""
    first = day.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def refresh_turnaround_month(day: date) -> int:
    """Replace the monthly turnaround rows of ``day``'s month with the sums of its daily rows; returns the rows."""
    first, last = month_bounds(day)
    daily = PlatformTurnaround
    rows = [{"month": first, "institution_id": inst, "bucket": bucket, "approvals": int(count)}
            for inst, bucket, count in db.session.execute(
                select(daily.institution_id, daily.bucket, func.sum(daily.approvals))
                .where(daily.day >= first, daily.day <= last).group_by(daily.institution_id, daily.bucket))]
    db.session.execute(delete(PlatformTurnaroundMonth).where(PlatformTurnaroundMonth.month == first))
    if rows:
        db.session.execute(insert(PlatformTurnaroundMonth), rows)
    return len(rows)
