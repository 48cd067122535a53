"""The operations console on PostgreSQL and Redis: COPY import, day buckets in the display
time zone, keyset paging of every list ordering, and the dashboard cache in Redis."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.dashboard.cache import cached, clear_dashboard_cache
from app.dashboard.services import compute_figures
from app.database import utcnow
from app.platform.models import Customer, CustomerImport
from app.users.models import Role

pytestmark = pytest.mark.integration


def test_bulk_import_uses_copy_and_is_all_or_nothing(db, make_user, make_institution, staff):
    make_institution(code="PGB01")
    forms = staff(make_user(Role.ADMIN))
    lines = "".join(f"Pelanggan {n},pelanggan{n}@contoh.co.id,+62 811 {n:04d},PGB01\n" for n in range(500))
    content = ("full_name,email,phone,institution_code\n" + lines).encode()
    response = forms.client.post("/customers/import", data={
        "csrf_token": forms.token("/customers/import"), "file": (io.BytesIO(content), "pg.csv")},
        content_type="multipart/form-data")
    staged = db.session.scalars(select(CustomerImport)).one()
    assert "500 customers are ready to import." in forms.client.get(response.headers["Location"]).get_data(
        as_text=True)
    done = forms.post(f"/customers/import/{staged.id}/confirm", {"sha256": staged.file_sha256},
                      page=response.headers["Location"])
    assert done.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 500
    row = db.session.scalars(select(Customer).where(Customer.email == "pelanggan7@contoh.co.id")).one()
    assert (row.full_name, row.phone, row.is_active, row.version) == ("Pelanggan 7", "+62 811 0007", True, 1)
    assert row.created_at.tzinfo is not None and abs(row.created_at - utcnow()) < timedelta(minutes=5)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "CUSTOMER_BULK_IMPORT")).one()
    assert entry.changes["customers"] == {"before": 0, "after": 500}


def test_copy_refuses_a_duplicate_and_leaves_the_transaction_usable(db, make_institution, make_customer):
    from sqlalchemy.exc import IntegrityError

    from app.platform.services import imports

    institution = make_institution()
    make_customer(institution=institution, email="dup@contoh.co.id")
    with pytest.raises(IntegrityError):
        imports.insert_customers([(institution.id, "A", "a@contoh.co.id", None),
                                  (institution.id, "Dup", "dup@contoh.co.id", None)])
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1  # the savepoint rolled back


def test_days_are_counted_in_the_display_time_zone(db, make_transaction, make_approval):
    now = utcnow()
    jakarta_today = (now + timedelta(hours=7)).date()  # Asia/Jakarta is UTC+7 all year
    jakarta_midnight_utc = datetime.combine(jakarta_today, datetime.min.time(), UTC) - timedelta(hours=7)
    make_transaction(created_at=jakarta_midnight_utc + timedelta(minutes=30))  # today in Jakarta
    make_transaction(created_at=jakarta_midnight_utc - timedelta(minutes=30))  # yesterday in Jakarta
    make_approval(status="approved", decided_at=jakarta_midnight_utc + timedelta(minutes=5))
    make_approval(status="rejected", decided_at=jakarta_midnight_utc + timedelta(minutes=6))
    figures = compute_figures(None)
    assert [n for _day, n in figures.transactions_per_day[-2:]] == [1, 1]
    assert figures.decisions_per_day[-1][1:] == (1, 1)
    assert sum(n for _day, n in figures.transactions_per_day) == 2


@pytest.mark.parametrize(("url", "marker"), [
    ("/customers?sort=created", "/customers/"), ("/customers?sort=name", "/customers/"),
    ("/customers?sort=email&order=desc", "/customers/"), ("/transactions?sort=amount", "/transactions/"),
    ("/transactions?sort=reference", "/transactions/"), ("/transactions?sort=created&order=asc", "/transactions/"),
    ("/institutions?sort=code", "/institutions/"), ("/approvals?status=", "/approvals/"),
])
def test_every_ordering_pages_through_everything_once(app, db, monkeypatch, make_user, make_institution,
                                                      make_customer, make_transaction, make_approval, staff,
                                                      url, marker):
    import re

    institution = make_institution()
    for n in range(5):
        customer = make_customer(institution=institution, full_name="Same Name", email=f"c{n}@contoh.co.id",
                                 created_at=utcnow() - timedelta(days=n % 2))
        make_transaction(customer=customer, amount_idr=100_000 * (n % 2 + 1), created_at=customer.created_at)
        make_approval(institution=institution, requested_at=utcnow() - timedelta(hours=n % 2))
        make_institution()
    monkeypatch.setitem(app.config, "LIST_PAGE_SIZE", 2)
    forms = staff(make_user(Role.ADMIN))
    pattern = re.compile(rf'href="{re.escape(marker)}(\d+)"')
    seen, next_url, pages = [], url, 0
    while next_url:
        page = forms.client.get(next_url).get_data(as_text=True)
        seen += [int(i) for i in pattern.findall(page)]
        found = re.search(r'rel="next" href="([^"]+)"', page)
        next_url = found.group(1).replace("&amp;", "&") if found else None
        pages += 1
    assert len(seen) == len(set(seen)) >= 5 and pages >= 3


def test_dashboard_cache_lives_in_redis_and_clears_for_every_worker(app, db):
    import redis

    assert cached("probe", 1, lambda: 41) == 41
    client = redis.Redis.from_url(app.config["REDIS_URL"])
    assert any(b"dashboard" in key for key in client.keys("*"))
    assert cached("probe", 1, lambda: 42) == 41
    clear_dashboard_cache()
    assert cached("probe", 1, lambda: 43) == 43
