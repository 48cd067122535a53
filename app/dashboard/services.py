"""Figures for the dashboard, scoped to what the viewer may see.

Counts come from indexed queries and are cached per scope (app.dashboard.cache); the
services that change them clear the cache after their commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import DateTime, bindparam, case, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from app.audit.models import AuditAction, AuditLog
from app.dashboard import charts
from app.dashboard.cache import cached
from app.database import utcnow
from app.extensions import db
from app.platform.models import Approval, Customer, DecisionStatus, Institution, Transaction

CHART_DAYS = 30


@dataclass(frozen=True)
class Figures:
    """The cached part of the dashboard (plain values, so any cache backend can keep it)."""

    institutions: int
    customers: int
    new_customers_week: int
    pending_transactions: int
    pending_amount_idr: int
    pending_approvals: int
    transactions_per_day: list[tuple[date, int]]
    decisions_per_day: list[tuple[date, int, int]]  # approved, rejected
    computed_at: datetime


@dataclass(frozen=True)
class Overview:
    figures: Figures
    recent_activity: list[AuditLog]
    sign_in_failures_24h: int | None  # None when the viewer may not see security figures

    @property
    def transactions_chart(self) -> charts.BarChart:
        return charts.bar_chart([day for day, _n in self.figures.transactions_per_day],
                                [("transactions", [n for _d, n in self.figures.transactions_per_day])])

    @property
    def decisions_chart(self) -> charts.BarChart:
        rows = self.figures.decisions_per_day
        return charts.bar_chart([day for day, _a, _r in rows],
                                [("approved", [a for _d, a, _r in rows]), ("rejected", [r for _d, _a, r in rows])])


def _scoped(query, column, institution_id: int | None):
    return query if institution_id is None else query.where(column == institution_id)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def chart_days(today: date | None = None) -> list[date]:
    """The last CHART_DAYS days in the display time zone, oldest first."""
    today = today or utcnow().astimezone(_zone()).date()
    return [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]


def _per_day(query_for, column, days: list[date]) -> dict[date, tuple]:
    """Run ``query_for(bucket)`` grouped by the local calendar day of ``column`` (from ``days``).

    PostgreSQL sorts rows into days with width_bucket() over the days' midnights, computed
    here in the display time zone (right across daylight-saving changes, and about twice
    as fast as converting every row's time zone); SQLite shifts its naive UTC text.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        edges = bindparam("edges", [_midnight(day) for day in days], type_=ARRAY(DateTime(timezone=True)))
        bucket = func.width_bucket(column, edges)
        return {days[row[0] - 1]: tuple(row[1:]) for row in db.session.execute(query_for(bucket).group_by(bucket))}
    minutes = int(utcnow().astimezone(_zone()).utcoffset().total_seconds() // 60)
    day = func.date(column, f"{minutes:+d} minutes")
    return {date.fromisoformat(row[0]): tuple(row[1:]) for row in db.session.execute(query_for(day).group_by(day))}


@dataclass(frozen=True)
class DailyCounts:
    transactions: dict[date, int]
    decisions: dict[date, tuple[int, int]]  # approved, rejected


def daily_counts(institution_id: int | None, days: list[date], end: datetime | None = None) -> DailyCounts:
    """Transactions created and approvals decided per local day, from the first of ``days`` to ``end``."""
    start = _midnight(days[0])

    def within(query, column):
        query = query.where(column >= start)
        return query if end is None else query.where(column < end)

    transactions = _per_day(lambda day: _scoped(within(select(day, func.count()), Transaction.created_at),
                                                Transaction.institution_id, institution_id),
                            Transaction.created_at, days)
    approved = func.sum(case((Approval.status == DecisionStatus.APPROVED.value, 1), else_=0))
    decisions = _per_day(lambda day: _scoped(within(select(day, approved, func.count()), Approval.decided_at),
                                             Approval.institution_id, institution_id),
                         Approval.decided_at, days)
    return DailyCounts({d: int(row[0]) for d, row in transactions.items()},
                       {d: (int(row[0] or 0), int(row[1] - (row[0] or 0))) for d, row in decisions.items()})


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, _zone()).astimezone(UTC)


def compute_figures(institution_id: int | None) -> Figures:
    """Every cached figure for one institution, or for all when ``institution_id`` is None.

    The charts' past days come from their own, longer-lived cache; today is counted live.
    """
    pending = DecisionStatus.PENDING.value
    now = utcnow()
    days = chart_days()
    today = _midnight(days[-1])
    past = cached(f"days-before-{days[-1].isoformat()}", institution_id,
                  lambda: daily_counts(institution_id, days[:-1], today), history=True)
    current = daily_counts(institution_id, days[-1:])

    def count(query) -> int:
        return db.session.scalar(query) or 0

    tx_count, tx_amount = db.session.execute(
        _scoped(select(func.count(), func.coalesce(func.sum(Transaction.amount_idr), 0))
                .where(Transaction.status == pending), Transaction.institution_id, institution_id)).one()
    transactions = {**past.transactions, **current.transactions}
    decisions = {**past.decisions, **current.decisions}
    return Figures(
        institutions=count(_scoped(select(func.count()).select_from(Institution), Institution.id, institution_id)),
        customers=count(_scoped(select(func.count()).select_from(Customer), Customer.institution_id, institution_id)),
        new_customers_week=count(_scoped(select(func.count()).select_from(Customer)
                                         .where(Customer.created_at >= now - timedelta(days=7)),
                                         Customer.institution_id, institution_id)),
        pending_transactions=tx_count,
        pending_amount_idr=int(tx_amount),
        pending_approvals=count(_scoped(select(func.count()).select_from(Approval).where(Approval.status == pending),
                                        Approval.institution_id, institution_id)),
        transactions_per_day=[(d, transactions.get(d, 0)) for d in days],
        decisions_per_day=[(d, *decisions.get(d, (0, 0))) for d in days],
        computed_at=now,
    )


def sign_in_failures(hours: int = 24) -> int:
    """Failed sign-ins in the last ``hours`` (index on audit action and time)."""
    return db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == AuditAction.LOGIN_FAILURE.value, AuditLog.created_at >= utcnow() - timedelta(hours=hours)))


def overview(institution_id: int | None, *, with_security: bool = False) -> Overview:
    """The dashboard of one institution, or of all when ``institution_id`` is None."""
    figures = cached("figures", institution_id, lambda: compute_figures(institution_id))
    recent = db.session.scalars(
        _scoped(select(AuditLog), AuditLog.institution_id, institution_id).order_by(AuditLog.id.desc()).limit(10)
    ).all()
    failures = cached("sign_in_failures", None, sign_in_failures) if with_security else None
    return Overview(figures, list(recent), failures)
