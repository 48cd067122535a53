"""The analytics pages. Each one: the period from the query (app.insights.ranges), the figures
(app.insights.queries), a chart and its table, and ``?format=csv`` for the table (``&table=``
when a page has several)."""

from __future__ import annotations

from flask import current_app, render_template, request
from flask_babel import lazy_gettext as _l

from app.analytics.visitors import local_day
from app.database import utcnow
from app.inputs import InvalidInput, text
from app.insights import bp, charts, queries
from app.insights.cache import figures
from app.insights.exports import csv_download
from app.insights.labels import event_label, role_label
from app.insights.ranges import PRESETS, choice_from
from app.listing import wants_csv
from app.security.access import Permission, requires

TABS = (("insights.overview", _l("Visitors")), ("insights.pages", _l("Top pages")),
        ("insights.adoption", _l("Adoption")), ("insights.funnel", _l("Funnel")),
        ("insights.retention", _l("Retention")), ("insights.platform", _l("Platform")))


def _choice():
    return choice_from(request.args, local_day(utcnow()))


def _table(*allowed: str) -> str:
    """The ``table`` a CSV download asks for (the first one when not given)."""
    chosen = text(request.args.get("table"), max_length=20) or allowed[0]
    if chosen not in allowed:
        raise InvalidInput(_l("There is no such table on this page."), "table")
    return chosen


def _page(template: str, choice, **context):
    return render_template(template, choice=choice, tabs=TABS, presets=PRESETS, event_label=event_label,
                           role_label=role_label, zone=current_app.config["BABEL_DEFAULT_TIMEZONE"], **context)


def _name(period) -> str:
    return f"{period.first.isoformat()}-{period.last.isoformat()}"


@bp.get("/")
@requires(Permission.VIEW_ANALYTICS)
def overview():
    choice = _choice()
    rows = figures("overview", choice.period, lambda: queries.overview(choice.period))
    if wants_csv():
        _table("days")
        return csv_download(f"analytics-visitors-{_name(choice.period)}", ["day", "page_views", "visitors", "events"],
                            [(r.day.isoformat(), r.page_views, r.visitors, r.events) for r in rows])
    chart = charts.daily_chart([r.day for r in rows], [r.page_views for r in rows], [r.visitors for r in rows])
    return _page("insights/overview.html", choice, rows=rows, chart=chart,
                 totals=(sum(r.page_views for r in rows), sum(r.visitors for r in rows)))


@bp.get("/pages")
@requires(Permission.VIEW_ANALYTICS)
def pages():
    choice = _choice()
    rows = figures("pages", choice.period, lambda: queries.top_pages(choice.period))
    if wants_csv():
        _table("pages")
        return csv_download(f"analytics-top-pages-{_name(choice.period)}", ["page", "page_views", "visitor_days"], rows)
    return _page("insights/pages.html", choice, rows=rows, limit=queries.TOP_PAGES)


@bp.get("/adoption")
@requires(Permission.VIEW_ANALYTICS)
def adoption():
    choice = _choice()
    roles, rows = figures("adoption", choice.period, lambda: queries.adoption(choice.period))
    if wants_csv():
        _table("adoption")
        return csv_download(f"analytics-adoption-{_name(choice.period)}", ["event", "role", "events", "visitor_days"],
                            [(name, role, *cells[role]) for name, cells in rows for role in roles if role in cells])
    return _page("insights/adoption.html", choice, roles=roles, rows=rows)


@bp.get("/funnel")
@requires(Permission.VIEW_ANALYTICS)
def funnel():
    choice = _choice()
    steps = figures("funnel", choice.period, lambda: queries.funnel(choice.period))
    if wants_csv():
        _table("funnel")
        return csv_download(f"analytics-funnel-{_name(choice.period)}",
                            ["step", "count", "conversion_from_previous", "median_seconds", "timed_events"],
                            [(s.name, s.count, None if s.conversion is None else round(s.conversion, 4),
                              None if s.median_seconds is None else round(s.median_seconds), s.timed) for s in steps])
    return _page("insights/funnel.html", choice, steps=steps)


@bp.get("/retention")
@requires(Permission.VIEW_ANALYTICS)
def retention():
    choice = _choice()
    cohorts = figures("retention", choice.period, lambda: queries.retention(choice.period))
    if wants_csv():
        _table("cohorts")
        return csv_download(f"analytics-retention-{_name(choice.period)}",
                            ["joined_week", *(f"week_{n}" for n in range(queries.COHORT_WEEKS))],
                            [(c.label, *c.weeks) for c in cohorts])
    return _page("insights/retention.html", choice, cohorts=cohorts, weeks=range(queries.COHORT_WEEKS))


@bp.get("/platform")
@requires(Permission.VIEW_ANALYTICS)
def platform():
    choice = _choice()
    institutions, totals = figures("platform", choice.period,
                                   lambda: queries.platform(choice.period, choice.interval), choice.interval)
    if wants_csv():
        name = f"{_name(choice.period)}"
        if _table("institutions", "volume") == "institutions":
            return csv_download(f"platform-institutions-{name}",
                                ["institution_id", "institution", "transactions", "volume_idr", "approvals_decided",
                                 "turnaround_p50_seconds", "turnaround_p95_seconds"],
                                [(r.institution_id or None, r.name, r.transactions, r.volume_idr, r.approvals,
                                  None if r.p50_seconds is None else round(r.p50_seconds),
                                  None if r.p95_seconds is None else round(r.p95_seconds)) for r in institutions])
        names = {r.institution_id: r.name for r in institutions}
        return csv_download(f"platform-volume-{choice.interval}-{name}",
                            [f"{choice.interval}_starting", "institution_id", "institution", "transactions",
                             "volume_idr"],
                            [(start.isoformat(), inst or None, names.get(inst, ""), count, volume)
                             for start, inst, count, volume in queries.platform_detail(choice.period, choice.interval)])
    starts, counts = [start for start, _c, _v in totals], [count for _s, count, _v in totals]
    chart = charts.daily_chart(starts, counts) if choice.interval == "day" else charts.chart(starts, counts)
    return _page("insights/platform.html", choice, institutions=institutions, totals=totals, chart=chart)
