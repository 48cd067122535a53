"""The analytics pages' rollups and pages on PostgreSQL (COPY-written events, jsonb properties,
BigInteger sums): the same exact numbers as on SQLite."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from app.analytics import histogram
from app.analytics.models import AnalyticsDayTotal, PlatformDaily
from app.analytics.platform_rollup import rollup_platform_day
from app.users.models import Role
from tests.unit.test_analytics_pages import at, journey, today  # noqa: F401  (fixtures)


def rows_of(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_the_rollups_and_pages_give_exact_figures_on_postgres(app, db, journey, make_user,  # noqa: F811
                                                              client_for):
    totals = db.session.get(AnalyticsDayTotal, journey)
    assert (totals.events, totals.page_views, totals.visitors) == (11, 4, 5)
    client = client_for(make_user(Role.SUPERADMIN))
    funnel = {row[0]: row[1:] for row in rows_of(client.get("/analytics/funnel?range=7&format=csv"))[1:]}
    assert [funnel[step][0] for step in ("invitation_sent", "invitation_accepted", "two_factor_enrolled",
                                         "first_action")] == ["2", "1", "2", "1"]
    assert int(funnel["invitation_accepted"][2]) == round(histogram.value_of(histogram.bucket_of(100)))
    assert rows_of(client.get("/analytics/pages?range=7&format=csv"))[1:] == [["/account", "3", "2"],
                                                                             ["/users", "2", "2"]]
    assert rows_of(client.get("/analytics/retention?range=366&format=csv"))[1][1:4] == ["2", "0", "1"]


def test_the_platform_rollup_on_postgres(app, db, today, make_institution, make_customer,  # noqa: F811
                                         make_transaction, make_approval, make_user, client_for):
    bank = make_institution()
    customer = make_customer(bank)
    for amount in (3_000_000_000, 4_000_000_000):  # the sum passes 2**31
        make_transaction(customer, amount_idr=amount, created_at=at(today, 9))
    for hours in (1, 2, 3, 4, 100):
        make_approval(bank, status="approved", requested_at=at(today - timedelta(days=5), 8),
                      decided_at=at(today - timedelta(days=5), 8) + timedelta(hours=hours))
    for days_ago in range(6):
        rollup_platform_day(today - timedelta(days=days_ago))
    db.session.commit()
    volume = select(PlatformDaily.volume_idr).where(PlatformDaily.day == today, PlatformDaily.institution_id == bank.id)
    assert db.session.scalar(volume) == 7 * 10**9
    client = client_for(make_user(Role.SUPERADMIN))
    [row] = [r for r in rows_of(client.get("/analytics/platform?range=30&format=csv"))[1:] if r[0] == str(bank.id)]
    assert row[2:5] == ["2", "7000000000", "5"]
    assert abs(int(row[5]) - 3 * 3600) <= 0.025 * 3 * 3600 and abs(int(row[6]) - 100 * 3600) <= 0.025 * 100 * 3600
