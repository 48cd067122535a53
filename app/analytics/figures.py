"""The analytics rollups beside ``analytics_daily``, made from one local day's raw events.

- ``analytics_day_totals``: events, page views and distinct visitors of the day (exact: the
  visitor id holds for the whole day);
- ``analytics_durations``: for each milestone, how many carried ``seconds`` in each histogram
  bucket (app/analytics/histogram.py), so median times over any range need no raw events;
- ``analytics_cohort_weeks``: ``active_week`` events per join week and weeks since joining.

:func:`rollup_figures` replaces the day's rows (idempotent); app.analytics.rollup.rollup_day
calls it in the same transaction, under the same retention rule.

The analytics pages cache what they compute from these tables under :data:`ROLLUP_GENERATION`;
``flask analytics rollup`` and ``purge`` call :func:`clear_rollup_figures` after each commit, so
the next page shows the new figures at once.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import case, delete, func, insert, select

from app import caching
from app.analytics import histogram
from app.analytics.catalogue import BY_NAME, Kind
from app.analytics.models import AnalyticsCohortWeek, AnalyticsDayTotal, AnalyticsDuration, AnalyticsEvent
from app.extensions import db

TIMED_MILESTONES = tuple(e.name for e in BY_NAME.values() if e.kind is Kind.MILESTONE and "seconds" in e.properties)
ACTIVE_WEEK = "active_week"
ROLLUP_GENERATION = "analytics-rollup"  # the cache generation of every figure read from the rollups


def clear_rollup_figures() -> None:
    """Make every cached figure of the rollup tables unreachable (call after the commit that changed them)."""
    caching.bump(ROLLUP_GENERATION)


def _replace(model, day: date, rows: list[dict]) -> int:
    db.session.execute(delete(model).where(model.day == day))
    if rows:
        db.session.execute(insert(model), rows)
    return len(rows)


def rollup_figures(day: date) -> int:
    """Replace ``day``'s rows of the three tables above with counts from its raw events; returns the rows."""
    events = AnalyticsEvent
    total = db.session.execute(select(func.count(), func.coalesce(func.sum(case((events.name == "page_view", 1),
                                                                                else_=0)), 0),
                                      func.count(events.visitor.distinct())).where(events.day == day)).one()
    totals = [{"day": day, "events": total[0], "page_views": total[1], "visitors": total[2]}] if total[0] else []
    durations: Counter = Counter()
    cohorts: Counter = Counter()
    for name, properties in db.session.execute(select(events.name, events.properties).where(
            events.day == day, events.name.in_((*TIMED_MILESTONES, ACTIVE_WEEK)))):
        properties = properties or {}
        if name == ACTIVE_WEEK:
            if "joined_week" in properties and "weeks_since_joined" in properties:
                cohorts[(int(properties["joined_week"]), int(properties["weeks_since_joined"]))] += 1
        elif "seconds" in properties:
            durations[(name, histogram.bucket_of(int(properties["seconds"])))] += 1
    rows = _replace(AnalyticsDayTotal, day, totals)
    rows += _replace(AnalyticsDuration, day, [{"day": day, "name": name, "bucket": bucket, "events": count}
                                              for (name, bucket), count in sorted(durations.items())])
    rows += _replace(AnalyticsCohortWeek, day, [
        {"day": day, "joined_week": joined, "weeks_since": since, "events": count}
        for (joined, since), count in sorted(cohorts.items())])
    return rows
