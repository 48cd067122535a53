"""What the analytics pages show, read from the rollup tables only (never the raw events or the
platform's rows), so every page costs a few small aggregate queries whatever the period.

Each function takes a :class:`~app.insights.ranges.Period` and returns plain rows for the
template, the chart and the CSV alike.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, case, func, or_, select, union_all

from app.analytics import histogram
from app.analytics.catalogue import BY_NAME, ROLES, Kind
from app.analytics.models import (
    AnalyticsCohortWeek,
    AnalyticsDaily,
    AnalyticsDayTotal,
    AnalyticsDuration,
    PlatformDaily,
    PlatformTurnaround,
    PlatformTurnaroundMonth,
)
from app.analytics.platform_rollup import month_bounds
from app.extensions import db
from app.insights.ranges import Period
from app.platform.models import Institution

TOP_PAGES = 50
FUNNEL = ("invitation_sent", "invitation_accepted", "two_factor_enrolled", "first_action")
COHORT_WEEKS = 13  # weeks 0..12 after joining


def _in(model, period: Period):
    return (model.day >= period.first, model.day <= period.last)


def _histogram(model, key, counted, period: Period, where=()):
    """The histogram rows of ``model`` in the period as (key, bucket, n)."""
    return select(key.label("key"), model.bucket.label("bucket"), counted.label("n")).where(*_in(model, period), *where)


def _turnaround_rows(period: Period):
    """The turnaround histogram rows of the period as (institution, bucket, n): whole calendar months from
    ``platform_turnaround_monthly``, the days before and after them from ``platform_turnaround_daily``."""
    first_month = period.first if period.first.day == 1 else month_bounds(period.first)[1] + timedelta(days=1)
    last_month = month_bounds(period.last)[0]
    if month_bounds(period.last)[1] != period.last:
        last_month = month_bounds(last_month - timedelta(days=1))[0]
    daily = PlatformTurnaround
    if first_month > last_month:
        return _histogram(daily, daily.institution_id, daily.approvals, period)
    monthly = PlatformTurnaroundMonth
    whole = select(monthly.institution_id.label("key"), monthly.bucket.label("bucket"), monthly.approvals.label("n")
                   ).where(monthly.month >= first_month, monthly.month <= last_month)
    ends = select(daily.institution_id.label("key"), daily.bucket.label("bucket"), daily.approvals.label("n")).where(
        or_(and_(daily.day >= period.first, daily.day < first_month),
            and_(daily.day > month_bounds(last_month)[1], daily.day <= period.last)))
    return union_all(whole, ends)


def _percentiles(rows, percents: tuple[int, ...]) -> dict[object, tuple[int, list[float | None]]]:
    """Per key of the histogram ``rows`` (key, bucket, n): how many they count, and their nearest-rank
    percentiles (whole ``percents``), worked out in the database in one scan (a row per key, not per bucket)."""
    rows = rows.subquery()
    summed = (select(rows.c.key, rows.c.bucket, func.sum(rows.c.n).label("n"))
              .group_by(rows.c.key, rows.c.bucket).subquery())
    running = select(summed.c.key, summed.c.bucket,
                     func.sum(summed.c.n).over(partition_by=summed.c.key, order_by=summed.c.bucket).label("seen"),
                     func.sum(summed.c.n).over(partition_by=summed.c.key).label("total")).subquery()
    # the first bucket whose running count reaches p % of the total (seen >= ceil(p * total) for whole counts)
    picks = [func.min(case((running.c.seen * 100 >= percent * running.c.total, running.c.bucket)))
             for percent in percents]
    return {row[0]: (int(row[1]), [None if b is None else histogram.value_of(int(b)) for b in row[2:]])
            for row in db.session.execute(select(running.c.key, func.max(running.c.total), *picks)
                                          .group_by(running.c.key))}


@dataclass(frozen=True)
class DayFigures:
    day: date
    page_views: int
    visitors: int
    events: int


def overview(period: Period) -> list[DayFigures]:
    """Page views, distinct visitors and all events per day (zeros for days without any)."""
    found = {row.day: row for row in db.session.execute(
        select(AnalyticsDayTotal.day, AnalyticsDayTotal.page_views, AnalyticsDayTotal.visitors,
               AnalyticsDayTotal.events).where(*_in(AnalyticsDayTotal, period)))}
    return [DayFigures(d, int(found[d].page_views), int(found[d].visitors), int(found[d].events)) if d in found
            else DayFigures(d, 0, 0, 0) for d in period.days]


def top_pages(period: Period, limit: int = TOP_PAGES) -> list[tuple[str, int, int]]:
    """(route template, page views, visitor-days) of the most viewed pages."""
    views = func.sum(AnalyticsDaily.events)
    return [(path, int(v), int(d)) for path, v, d in db.session.execute(
        select(AnalyticsDaily.path, views, func.sum(AnalyticsDaily.visitors))
        .where(AnalyticsDaily.name == "page_view", *_in(AnalyticsDaily, period))
        .group_by(AnalyticsDaily.path).order_by(views.desc(), AnalyticsDaily.path).limit(limit))]


def adoption(period: Period) -> tuple[list[str], list[tuple[str, dict[str, tuple[int, int]]]]]:
    """The roles, and per declared action or milestone: role -> (events, visitor-days)."""
    names = [e.name for e in BY_NAME.values() if e.kind is not Kind.PAGE]
    cells: dict[str, dict[str, tuple[int, int]]] = {name: {} for name in names}
    for name, role, events, visitors in db.session.execute(
            select(AnalyticsDaily.name, AnalyticsDaily.role, func.sum(AnalyticsDaily.events),
                   func.sum(AnalyticsDaily.visitors))
            .where(AnalyticsDaily.name.in_(names), *_in(AnalyticsDaily, period))
            .group_by(AnalyticsDaily.name, AnalyticsDaily.role)):
        cells[name][role or ""] = (int(events), int(visitors))
    return list(ROLES), [(name, cells[name]) for name in names]


@dataclass(frozen=True)
class FunnelStep:
    name: str
    count: int
    conversion: float | None  # this step's count over the previous step's
    median_seconds: float | None
    timed: int  # how many of the step's events carried a duration


def funnel(period: Period) -> list[FunnelStep]:
    """The four steps: counts, step conversion and median time from the previous step."""
    counts = dict(db.session.execute(
        select(AnalyticsDaily.name, func.sum(AnalyticsDaily.events))
        .where(AnalyticsDaily.name.in_(FUNNEL), *_in(AnalyticsDaily, period)).group_by(AnalyticsDaily.name)).all())
    medians = _percentiles(_histogram(AnalyticsDuration, AnalyticsDuration.name, AnalyticsDuration.events, period,
                                      (AnalyticsDuration.name.in_(FUNNEL),)), (50,))
    steps, previous = [], None
    for name in FUNNEL:
        count = int(counts.get(name) or 0)
        timed, (median,) = medians.get(name, (0, [None]))
        steps.append(FunnelStep(name, count, count / previous if previous else None, median, timed))
        previous = count
    return steps


@dataclass(frozen=True)
class Cohort:
    joined_week: int
    weeks: list[int]  # active accounts in week 0, 1, ... after joining

    @property
    def label(self) -> str:
        return f"{self.joined_week // 100}-W{self.joined_week % 100:02d}"

    def share(self, week: int) -> float | None:
        return self.weeks[week] / self.weeks[0] if self.weeks[0] else None


def retention(period: Period) -> list[Cohort]:
    """Per join week (newest first): accounts active in each of the weeks 0..12 after joining,
    from the ``active_week`` events of the period."""
    table: dict[int, list[int]] = {}
    for joined, since, events in db.session.execute(
            select(AnalyticsCohortWeek.joined_week, AnalyticsCohortWeek.weeks_since,
                   func.sum(AnalyticsCohortWeek.events))
            .where(AnalyticsCohortWeek.weeks_since < COHORT_WEEKS, *_in(AnalyticsCohortWeek, period))
            .group_by(AnalyticsCohortWeek.joined_week, AnalyticsCohortWeek.weeks_since)):
        table.setdefault(joined, [0] * COHORT_WEEKS)[since] = int(events)
    return [Cohort(joined, weeks) for joined, weeks in sorted(table.items(), reverse=True)]


@dataclass(frozen=True)
class InstitutionFigures:
    institution_id: int
    name: str
    transactions: int
    volume_idr: int
    approvals: int
    p50_seconds: float | None
    p95_seconds: float | None


def interval_start(day: date, interval: str) -> date:
    """The first day of the day, ISO week or month ``day`` falls in."""
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _names() -> dict[int, str]:
    return dict(db.session.execute(select(Institution.id, Institution.name)).all())


def platform(period: Period, interval: str) -> tuple[list[InstitutionFigures], list[tuple[date, int, int]]]:
    """Per institution: payments, volume, decided approvals and turnaround p50/p95; and the totals
    of all institutions per interval (its first day, payments, volume)."""
    sums = db.session.execute(
        select(PlatformDaily.institution_id, func.sum(PlatformDaily.transactions), func.sum(PlatformDaily.volume_idr),
               func.sum(PlatformDaily.approvals_decided))
        .where(*_in(PlatformDaily, period)).group_by(PlatformDaily.institution_id)).all()
    per_interval: dict[date, list[int]] = {interval_start(d, interval): [0, 0] for d in period.days}
    for day, count, volume in db.session.execute(
            select(PlatformDaily.day, func.sum(PlatformDaily.transactions), func.sum(PlatformDaily.volume_idr))
            .where(*_in(PlatformDaily, period)).group_by(PlatformDaily.day)):
        figures = per_interval[interval_start(day, interval)]
        figures[0] += int(count)
        figures[1] += int(volume)
    turnaround = _percentiles(_turnaround_rows(period), (50, 95))
    names = _names()
    rows = [InstitutionFigures(inst, names.get(inst, ""), int(count), int(volume), int(approvals),
                               *turnaround.get(inst, (0, [None, None]))[1])
            for inst, count, volume, approvals in sums]
    rows.sort(key=lambda r: (-r.volume_idr, r.name, r.institution_id))
    return rows, [(start, values[0], values[1]) for start, values in sorted(per_interval.items())]


def platform_detail(period: Period, interval: str) -> list[tuple[date, int, int, int]]:
    """Per interval and institution: (first day, institution id, payments, volume), for the CSV."""
    detail: dict[tuple[date, int], list[int]] = defaultdict(lambda: [0, 0])
    for day, inst, count, volume in db.session.execute(
            select(PlatformDaily.day, PlatformDaily.institution_id, PlatformDaily.transactions,
                   PlatformDaily.volume_idr).where(*_in(PlatformDaily, period))):
        figures = detail[(interval_start(day, interval), inst)]
        figures[0] += count
        figures[1] += volume
    return [(start, inst, values[0], values[1]) for (start, inst), values in sorted(detail.items())]
