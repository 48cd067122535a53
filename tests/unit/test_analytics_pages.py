"""The analytics pages: the rollups they read (exact numbers on small fixtures), the pages per role,
the period filter's bad input, and the CSV downloads."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.analytics import histogram, rollup
from app.analytics.ingest import write_events
from app.analytics.models import (
    AnalyticsActiveWeek,
    AnalyticsCohortWeek,
    AnalyticsDayTotal,
    AnalyticsDuration,
    PlatformDaily,
    PlatformTurnaround,
)
from app.analytics.platform_rollup import rollup_platform_day
from app.analytics.visitors import local_day
from app.analytics.weeks import week_label, week_of
from app.database import utcnow
from app.users.models import Role
from tests.unit.analytics_support import flushed

ZONE = ZoneInfo("Asia/Jakarta")


def event(day, name="page_view", path="/account", role="admin", visitor=1, properties=None, hour=12):
    moment = datetime.combine(day, time(hour), ZONE).astimezone(UTC)
    return (moment.timestamp(), day.isoformat(), name, path, role, f"{visitor:032x}", properties)


def at(day, hour=12, minute=0):
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)


@pytest.fixture
def today(app):
    with app.app_context():
        return local_day(utcnow())


@pytest.fixture
def journey(db, today):
    """Two days of events: page views of three visitors, the four funnel steps, and active weeks."""
    yesterday = today - timedelta(days=1)
    write_events(db.session, [
        event(today, visitor=1), event(today, visitor=1), event(today, "page_view", "/users", visitor=2),
        event(today, "page_view", "/users", "superadmin", visitor=3),
        event(yesterday, visitor=1),
        event(today, "invitation_sent", None, "superadmin", 3, {"role": "admin"}),
        event(today, "invitation_sent", None, "superadmin", 3, {"role": "admin"}),
        event(today, "invitation_accepted", None, "admin", 4, {"seconds": 100}),
        event(yesterday, "two_factor_enrolled", None, "admin", 5, {"seconds": 60, "method": "totp"}),
        event(today, "two_factor_enrolled", None, "admin", 4, {"seconds": 3600, "method": "totp"}),
        event(today, "first_action", None, "admin", 4, {"seconds": 0, "action": "import_done"}),
        event(today, "active_week", None, "admin", 4, {"joined_week": 202640, "weeks_since_joined": 0}),
        event(today, "active_week", None, "admin", 5, {"joined_week": 202640, "weeks_since_joined": 0}),
        event(yesterday, "active_week", None, "admin", 6, {"joined_week": 202640, "weeks_since_joined": 2}),
    ])
    for day in (yesterday, today):
        rollup.rollup_day(day, today=today)
    db.session.commit()
    return today


def test_the_figures_rollup_counts_each_day_exactly_and_is_idempotent(app, db, journey):
    today = journey
    totals = db.session.get(AnalyticsDayTotal, today)
    assert (totals.events, totals.page_views, totals.visitors) == (11, 4, 5)  # visitors 1 to 5
    durations = sorted(db.session.execute(select(AnalyticsDuration.name, AnalyticsDuration.bucket,
                                                 AnalyticsDuration.events).where(AnalyticsDuration.day == today)))
    assert durations == [("first_action", 0, 1), ("invitation_accepted", histogram.bucket_of(100), 1),
                         ("two_factor_enrolled", histogram.bucket_of(3600), 1)]
    cohorts = db.session.execute(select(AnalyticsCohortWeek.joined_week, AnalyticsCohortWeek.weeks_since,
                                        AnalyticsCohortWeek.events).where(AnalyticsCohortWeek.day == today)).all()
    assert cohorts == [(202640, 0, 2)]
    rollup.rollup_day(today, today=today)  # again: the same rows
    assert db.session.get(AnalyticsDayTotal, today).events == 11
    assert db.session.scalar(select(AnalyticsCohortWeek.events).where(AnalyticsCohortWeek.day == today)) == 2


def test_the_histogram_reads_percentiles_within_its_stated_precision():
    rng = random.Random(15)
    values = sorted(int(rng.lognormvariate(8, 2)) for _ in range(5001))
    counts = histogram.counts_of(values)
    for fraction in (0.5, 0.95):
        exact = values[max(int(-(-fraction * len(values) // 1)), 1) - 1]
        assert abs(histogram.percentile(counts, fraction) - exact) <= 0.025 * exact + 0.5
    assert histogram.percentile({}, 0.5) is None
    assert histogram.bucket_of(0) == 0 and histogram.bucket_of(1) == 1 and histogram.value_of(0) == 0


def test_the_platform_rollup_counts_payments_volume_and_turnaround_per_institution(
        app, db, today, make_institution, make_customer, make_transaction, make_approval):
    one, two = make_institution(), make_institution()
    customer = make_customer(one)
    make_transaction(customer, amount_idr=100_000, created_at=at(today, 1))
    make_transaction(customer, amount_idr=250_000, created_at=at(today, 23, 59))
    make_transaction(make_customer(two), amount_idr=7, created_at=at(today, 10))
    make_transaction(customer, amount_idr=999, created_at=at(today - timedelta(days=1), 23, 59))  # another day
    for minutes in (10, 20, 30):
        make_approval(one, status="approved", requested_at=at(today, 8), decided_at=at(today, 8, minutes))
    make_approval(two, status="rejected", requested_at=at(today - timedelta(days=2), 9), decided_at=at(today, 9))
    make_approval(two, status="pending", requested_at=at(today, 9))
    assert rollup_platform_day(today) > 0
    assert rollup_platform_day(today) > 0  # idempotent
    rows = {r.institution_id: (r.transactions, r.volume_idr, r.approvals_decided)
            for r in db.session.scalars(select(PlatformDaily).where(PlatformDaily.day == today))}
    assert rows == {one.id: (2, 350_000, 3), two.id: (1, 7, 1)}
    buckets = {(r.institution_id, r.bucket): r.approvals
               for r in db.session.scalars(select(PlatformTurnaround).where(PlatformTurnaround.day == today))}
    assert buckets == {(one.id, histogram.bucket_of(600)): 1, (one.id, histogram.bucket_of(1200)): 1,
                       (one.id, histogram.bucket_of(1800)): 1, (two.id, histogram.bucket_of(2 * 86400)): 1}


def test_the_rollup_command_rolls_up_the_platform_too_and_backfills(app, db, runner, today, make_transaction):
    make_transaction(amount_idr=5, created_at=at(today - 3 * timedelta(days=1)))
    db.session.commit()
    result = runner.invoke(args=["analytics", "rollup", "--since", (today - timedelta(days=3)).isoformat()])
    assert result.exit_code == 0, result.output
    assert result.output.count("platform rows") == 4
    three_days_ago = today - timedelta(days=3)
    assert db.session.scalar(select(PlatformDaily.volume_idr).where(PlatformDaily.day == three_days_ago)) == 5
    bad = runner.invoke(args=["analytics", "rollup", "--since", "2026-02-30"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


PAGES = ("/analytics/", "/analytics/pages", "/analytics/adoption", "/analytics/funnel", "/analytics/retention",
         "/analytics/platform")


@pytest.mark.parametrize("role", [Role.ADMIN, Role.INSTITUTION_ADMIN, Role.PRIVACY_OFFICER, Role.CUSTOMER])
def test_only_superadmins_may_see_the_analytics_pages(app, db, make_user, client_for, role):
    client = client_for(make_user(role))
    for page in PAGES:
        assert client.get(page).status_code == 403, page
        assert client.get(page + "?format=csv").status_code == 403, page


def test_anonymous_visitors_are_sent_to_sign_in(client):
    assert client.get("/analytics/funnel").status_code == 302


def test_the_pages_show_the_rolled_up_figures(app, db, journey, make_user, client_for):
    client = client_for(make_user(Role.SUPERADMIN))
    for page in PAGES:
        response = client.get(page + "?range=7")
        assert response.status_code == 200, page
    funnel = client.get("/analytics/funnel?range=7").get_data(as_text=True)
    assert "among consenting accounts" in funnel
    rows = list(csv.reader(io.StringIO(client.get("/analytics/funnel?range=7&format=csv").get_data(as_text=True))))
    assert rows[0] == ["step", "count", "conversion_from_previous", "median_seconds", "timed_events"]
    by_step = {row[0]: row[1:] for row in rows[1:]}
    assert by_step["invitation_sent"][:2] == ["2", ""]
    assert by_step["invitation_accepted"][:2] == ["1", "0.5"]
    assert by_step["two_factor_enrolled"][0] == "2"
    assert float(by_step["two_factor_enrolled"][2]) == pytest.approx(60, rel=0.025)  # median of 60 and 3600
    assert by_step["first_action"][:2] == ["1", "0.5"]
    overview = list(csv.reader(io.StringIO(client.get("/analytics/?range=7&format=csv").get_data(as_text=True))))
    assert overview[-1] == [journey.isoformat(), "4", "5", "11"] and overview[-2][1:] == ["1", "3", "3"]
    assert len(overview) == 8
    pages = list(csv.reader(io.StringIO(client.get("/analytics/pages?format=csv").get_data(as_text=True))))
    assert pages[1:] == [["/account", "3", "2"], ["/users", "2", "2"]]
    cohorts = list(csv.reader(io.StringIO(client.get("/analytics/retention?format=csv").get_data(as_text=True))))
    year, week = divmod(202640, 100)
    assert cohorts[1][:4] == [f"{year}-W{week:02d}", "2", "0", "1"]
    adoption = list(csv.reader(io.StringIO(client.get("/analytics/adoption?format=csv").get_data(as_text=True))))
    assert ["invitation_sent", "superadmin", "2", "1"] in adoption


def test_platform_page_and_csv_guard_institution_names(app, db, today, make_institution, make_customer,
                                                       make_transaction, make_user, client_for):
    institution = make_institution(name="=HYPERLINK(\"x\")")
    make_transaction(make_customer(institution), amount_idr=1_000, created_at=at(today, 10))
    rollup_platform_day(today)
    db.session.commit()
    client = client_for(make_user(Role.SUPERADMIN))
    for interval in ("day", "week", "month"):
        assert client.get(f"/analytics/platform?interval={interval}&range=90").status_code == 200
    rows = list(csv.reader(io.StringIO(client.get("/analytics/platform?format=csv&table=institutions")
                                       .get_data(as_text=True))))
    assert rows[1][1] == "'=HYPERLINK(\"x\")" and rows[1][2:4] == ["1", "1000"]
    volume = list(csv.reader(io.StringIO(client.get("/analytics/platform?format=csv&table=volume&interval=month")
                                         .get_data(as_text=True))))
    assert volume[1] == [today.replace(day=1).isoformat(), str(institution.id), "'=HYPERLINK(\"x\")", "1", "1000"]


@pytest.mark.parametrize("query, field", [
    ("range=abc", "range"), ("range=12", "range"), ("range=-7", "range"), ("interval=hour", "interval"),
    ("from=2026-13-01&to=2026-12-01", "from"), ("from=2020-01-01&to=2021-12-31", "from"),
    ("from=2026-12-01&to=2026-11-01", "from"), ("from=2026-11-01", "to"), ("from=2026-11-01&to=9999-12-31", "to"),
])
def test_a_bad_period_shows_the_default_and_says_what_was_wrong(app, db, make_user, client_for, query, field):
    client = client_for(make_user(Role.SUPERADMIN))
    response = client.get("/analytics/platform?" + query)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-testid="period-errors"' in html and f'id="period-{field}-error"' in html or field == "interval"
    assert client.get("/analytics/?" + query + "&format=csv").status_code == 200


def test_a_custom_period_and_an_unknown_table(app, db, make_user, client_for, today):
    client = client_for(make_user(Role.SUPERADMIN))
    first = (today - timedelta(days=365)).isoformat()
    rows = list(csv.reader(io.StringIO(client.get(f"/analytics/?from={first}&to={today}&format=csv")
                                       .get_data(as_text=True))))
    assert len(rows) == 367 and rows[1][0] == first
    assert client.get("/analytics/platform?format=csv&table=secrets").status_code == 400


def test_active_week_is_recorded_once_a_week_at_sign_in_for_consenting_accounts(app, db, consenting, make_user,
                                                                                  login_as, client, forms):
    user = consenting(Role.ADMIN)
    login_as(user)
    forms.post("/logout", page="/account")
    login_as(user)
    events = [e for e in flushed(app, db) if e.name == "active_week"]
    today = local_day(utcnow())
    assert len(events) == 1
    assert events[0].properties == {"joined_week": week_label(local_day(user.created_at)), "weeks_since_joined": 0}
    assert db.session.get(AnalyticsActiveWeek, user.id).week == week_of(today)
    other = make_user(Role.ADMIN)
    forms.post("/logout", page="/account")
    login_as(other)
    assert [e for e in flushed(app, db) if e.name == "active_week"] == events
    assert db.session.get(AnalyticsActiveWeek, other.id) is None


def test_the_percentiles_worked_out_in_the_database_equal_the_histograms_own(app, db, today):
    from app.insights.queries import _percentiles, _turnaround_rows
    from app.insights.ranges import last_days

    rng = random.Random(3)
    expected = {}
    for inst in (1, 2, 3):
        counts: dict[int, int] = {}
        for offset in range(5):
            for bucket in rng.sample(range(0, 300), 20):
                n = rng.randrange(1, 50)
                db.session.add(PlatformTurnaround(day=today - timedelta(days=offset), institution_id=inst,
                                                  bucket=bucket, approvals=n))
                counts[bucket] = counts.get(bucket, 0) + n
        expected[inst] = (sum(counts.values()), [histogram.percentile(counts, 0.5),
                                                 histogram.percentile(counts, 0.95), histogram.percentile(counts, 1.0)])
    db.session.flush()
    found = _percentiles(_turnaround_rows(last_days(7, today)), (50, 95, 100))
    assert found == expected
