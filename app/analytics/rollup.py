"""The daily rollup that pages read, and the purge that applies the retention settings.

:func:`rollup_day` replaces one local day's rows of ``analytics_daily`` with counts from the
raw events (events and distinct visitors per name, route template and role), and the day's
rows of the tables in app.analytics.figures (totals, durations, cohorts): running it
twice gives the same rows. It refuses days whose raw events are already past retention,
whose rollup it would otherwise wipe.

:func:`purge` deletes raw events older than ``analytics_raw_days``, rollups older than
``analytics_rollup_days``, the salts of every day before today (after which no visitor id of
those days can be computed again) and old ids of ingested stream entries; one
ANALYTICS_PURGE audit entry records what it did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, insert, select

from app.analytics.figures import rollup_figures
from app.analytics.ingest import KEEP_INGESTED, forget_ingested_entries
from app.analytics.models import (
    AnalyticsCohortWeek,
    AnalyticsDaily,
    AnalyticsDayTotal,
    AnalyticsDuration,
    AnalyticsEvent,
)
from app.analytics.visitors import delete_salts_before, local_day
from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import utcnow
from app.extensions import db
from app.security.actor import Actor
from app.settings import services as settings


class RollupRefused(ValueError):
    """The day's raw events are past retention (its rollup is all that is left), or in the future."""


def raw_cutoff(today: date) -> date:
    """The first local day whose raw events are still kept."""
    return today - timedelta(days=int(settings.get("analytics_raw_days")))


def rollup_day(day: date, *, today: date | None = None) -> int:
    """Replace ``day``'s rollup rows with fresh counts (on the caller's transaction); returns the rows.

    Raises RollupRefused for a day before :func:`raw_cutoff` or after today.
    """
    today = today or local_day(utcnow())
    if day < raw_cutoff(today) or day > today:
        raise RollupRefused(f"{day} is outside the days whose raw events are kept ({raw_cutoff(today)} to {today})")
    db.session.execute(delete(AnalyticsDaily).where(AnalyticsDaily.day == day))
    path, role = func.coalesce(AnalyticsEvent.path, ""), func.coalesce(AnalyticsEvent.role, "")
    counts = (select(AnalyticsEvent.day, AnalyticsEvent.name, path, role, func.count(),
                     func.count(AnalyticsEvent.visitor.distinct()))
              .where(AnalyticsEvent.day == day).group_by(AnalyticsEvent.day, AnalyticsEvent.name, path, role))
    result = db.session.execute(insert(AnalyticsDaily).from_select(
        ["day", "name", "path", "role", "events", "visitors"], counts))
    rollup_figures(day)  # day totals, milestone durations, retention cohorts (app.analytics.figures)
    return result.rowcount or 0


@dataclass
class PurgeRun:
    """What one purge deleted, and the cut-offs it applied."""

    raw_days: int
    rollup_days: int
    raw_before: date
    rollups_before: date
    events: int = 0
    rollups: int = 0
    salts: int = 0
    stream_entries: int = 0

    def as_json(self) -> dict:
        return {key: value.isoformat() if isinstance(value, date) else value for key, value in asdict(self).items()}


def purge(actor: Actor, *, now: datetime | None = None) -> PurgeRun:
    """Apply the retention of analytics (see the module docstring) on the caller's transaction."""
    now = now or utcnow()
    today = local_day(now)
    rollup_days = int(settings.get("analytics_rollup_days"))
    run = PurgeRun(int(settings.get("analytics_raw_days")), rollup_days, raw_cutoff(today),
                   today - timedelta(days=rollup_days))
    run.events = db.session.execute(delete(AnalyticsEvent).where(AnalyticsEvent.day < run.raw_before)).rowcount or 0
    run.rollups = db.session.execute(delete(AnalyticsDaily)
                                     .where(AnalyticsDaily.day < run.rollups_before)).rowcount or 0
    for model in (AnalyticsDayTotal, AnalyticsDuration, AnalyticsCohortWeek):
        db.session.execute(delete(model).where(model.day < run.rollups_before))
    run.salts = delete_salts_before(today)
    run.stream_entries = forget_ingested_entries(now - KEEP_INGESTED)
    audit.log(actor, AuditAction.ANALYTICS_PURGE, resource_type="analytics",
              description=f"Analytics retention applied: {run.events} raw events before {run.raw_before}, "
                          f"{run.rollups} daily rows before {run.rollups_before}, {run.salts} salts of past days",
              changes={"analytics": run.as_json()})
    return run
