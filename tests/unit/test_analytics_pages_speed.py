"""The analytics pages' shortcuts: charts of long periods per ISO week (exact sums), the per-table
formatter (the same text as the filters), and the figure cache that a rollup empties at once."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from flask_babel import force_locale

from app import formatting
from app.analytics import rollup
from app.analytics.ingest import write_events
from app.analytics.visitors import local_day
from app.database import utcnow
from app.insights import charts
from app.insights.cache import figures_key
from app.insights.ranges import last_days
from app.users.models import Role
from tests.unit.test_analytics_pages import event


@pytest.fixture
def today(app):
    with app.app_context():
        return local_day(utcnow())


def test_by_week_sums_each_iso_week_exactly_and_labels_its_first_day_in_the_period():
    days = [date(2026, 1, 7) + timedelta(days=n) for n in range(12)]  # Wednesday 7 to Sunday 18 January
    weeks, (views, visitors) = charts.by_week(days, list(range(1, 13)), [1] * 12)
    assert weeks == [date(2026, 1, 7), date(2026, 1, 12)]  # a partial first week, then Monday 12
    assert views == [1 + 2 + 3 + 4 + 5, sum(range(6, 13))]
    assert visitors == [5, 7]


def test_charts_of_long_periods_draw_a_bar_per_week_and_short_ones_a_bar_per_day():
    last = date(2026, 12, 6)  # a Sunday
    for length, bars, per_week in ((90, 90, False), (91, 13, True), (366, 53, True)):
        days = [last - timedelta(days=length - 1 - n) for n in range(length)]
        chart = charts.daily_chart(days, [1] * length, [2] * length)
        assert (len(chart.bars), chart.per_week) == (bars, per_week), length
        assert sum(bar.value for bar in chart.bars) == length
    assert charts.daily_chart(days, [0] * 366).empty


@pytest.mark.parametrize("language", ["en", "id"])
def test_the_table_formatter_writes_what_the_filters_write(app, language):
    with app.test_request_context(headers={"Accept-Language": language}), force_locale(language):
        f = formatting.TableFormat()
        for n in (0, 7, -1234, 1234567, 10**12, None, 2.5):
            assert f.count(n) == formatting.count(n)
        for ratio in (0.0, 1 / 3, 0.5, 2 / 3, 1.0, 0.12345, 12.5, None):
            assert f.percent(ratio) == formatting.percent(ratio)
        for amount in (0, 1500000, -25000, None):
            assert f.money(amount) == formatting.money(amount)
        for offset in range(0, 400, 13):
            day = date(2026, 1, 1) + timedelta(days=offset)
            assert f.day(day) == formatting.day(day)
            assert f.day_text(day, "d MMM yy") == formatting.day_text(day, "d MMM yy")


def _views_today(client) -> str:
    rows = list(csv.reader(io.StringIO(client.get("/analytics/?range=7&format=csv").get_data(as_text=True))))
    return rows[-1][1]


def test_the_cached_figures_stay_until_a_rollup_which_shows_the_new_ones_at_once(app, db, runner, make_user,
                                                                                  client_for, today):
    client = client_for(make_user(Role.SUPERADMIN))
    write_events(db.session, [event(today, visitor=1), event(today, visitor=2)])
    db.session.commit()
    assert runner.invoke(args=["analytics", "rollup", "--day", today.isoformat()]).exit_code == 0
    assert _views_today(client) == "2"
    write_events(db.session, [event(today, visitor=3)])
    rollup.rollup_day(today, today=today)  # the tables change behind the cache's back: still the cached figures
    db.session.commit()
    assert _views_today(client) == "2"
    assert client.get("/analytics/?range=7").status_code == 200
    result = runner.invoke(args=["analytics", "rollup", "--day", today.isoformat()])
    assert result.exit_code == 0, result.output
    assert _views_today(client) == "3"  # the rollup's new generation: computed again


def test_the_cache_key_names_page_period_interval_locale_and_scope(app, today):
    period = last_days(366, today)
    with app.test_request_context(), force_locale("id"):
        key = figures_key("platform", period, "week")
    assert key == f"platform:{period.first.isoformat()}_{today.isoformat()}:week:id:scope=all"


def test_turnaround_over_whole_months_reads_the_monthly_rows_and_equals_the_daily_ones(app, db):
    """Percentiles and counts from whole months (monthly table) plus end days (daily) are exactly those of
    the daily rows alone, for periods starting and ending anywhere; the monthly rows follow the daily ones."""
    import random

    from sqlalchemy import func, select

    from app.analytics.models import PlatformTurnaround, PlatformTurnaroundMonth
    from app.analytics.platform_rollup import refresh_turnaround_month
    from app.insights.queries import _histogram, _percentiles, _turnaround_rows
    from app.insights.ranges import Period

    rng = random.Random(11)
    first = date(2025, 11, 20)
    for offset in range(120):
        day = first + timedelta(days=offset)
        for inst in (0, 1, 2):
            for bucket in rng.sample(range(0, 200), 4):
                db.session.add(PlatformTurnaround(day=day, institution_id=inst, bucket=bucket,
                                                  approvals=rng.randrange(1, 9)))
    db.session.flush()
    for offset in range(0, 120, 10):
        refresh_turnaround_month(first + timedelta(days=offset))
    refresh_turnaround_month(first + timedelta(days=119))
    db.session.flush()
    assert db.session.scalar(select(func.sum(PlatformTurnaroundMonth.approvals))) == db.session.scalar(
        select(func.sum(PlatformTurnaround.approvals)))
    daily = PlatformTurnaround
    for start, end in ((date(2025, 11, 25), date(2026, 3, 10)), (date(2025, 12, 1), date(2026, 2, 28)),
                       (date(2025, 12, 31), date(2026, 2, 1)), (date(2026, 1, 5), date(2026, 1, 30))):
        period = Period(start, end)
        expected = _percentiles(_histogram(daily, daily.institution_id, daily.approvals, period), (50, 95, 100))
        assert _percentiles(_turnaround_rows(period), (50, 95, 100)) == expected, (start, end)
    assert "platform_turnaround_monthly" in str(_turnaround_rows(Period(date(2025, 11, 25), date(2026, 3, 10))))
    assert "platform_turnaround_monthly" not in str(_turnaround_rows(Period(date(2026, 1, 5), date(2026, 1, 30))))
