"""The jump box on PostgreSQL: control characters are a 400 (never a driver error), LIKE
wildcards stay literal, and the e-mail and name matches can be answered by their indexes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from app.audit.models import AuditLog
from app.platform.models import Customer
from app.search.services import contains, starts_with
from app.users.models import Role, User

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("bad", ["a\x00b", "\x00", "\x1f", "x" * 101])
def test_refused_queries_are_400_on_postgres_and_change_nothing(db, make_user, client_for, bad):
    probe = client_for(make_user(Role.SUPERADMIN))
    before = db.session.scalar(select(func.count()).select_from(AuditLog))
    assert probe.get("/jump", query_string={"q": bad}).status_code == 400
    answer = probe.get("/jump.json", query_string={"q": bad})
    assert answer.status_code == 400 and answer.json["error"]["code"] == "validation_error"
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == before


def test_each_kind_and_literal_wildcards_on_postgres(db, make_customer, make_transaction, make_user, client_for):
    customer = make_customer(full_name="Promo 50% Cashback", email="promo_50@contoh.co.id")
    tx = make_transaction(customer=customer, reference="TRX-PG-000001")
    admin = make_user(Role.ADMIN, email="pg.admin@contoh.co.id", display_name="Pegawai Admin")
    db.session.commit()
    probe = client_for(make_user(Role.SUPERADMIN))

    def urls(q: str) -> list[str]:
        return [r["url"] for r in probe.get("/jump.json", query_string={"q": q}).json["results"]]

    assert f"/customers/{customer.id}" in urls("PROMO_")
    assert f"/customers/{customer.id}" in urls("50% cash")
    assert urls("%") == [] and urls("___") == [] and urls("promoX") == []
    assert urls("trx-pg-000001") == [f"/transactions/{tx.id}"]
    assert f"/users/{admin.id}" in urls("pegawai")
    assert f"/users/{admin.id}" in urls("#" + str(admin.id))


@pytest.mark.parametrize(("table", "condition", "index"), [
    (Customer, starts_with(Customer.email, "sari.o"), "ix_customers_email_pattern"),
    (Customer, contains(func.lower(Customer.full_name), "ownwa"), "ix_customers_full_name_trgm"),
    (Customer, starts_with(func.lower(Customer.full_name), "sari o"), "ix_customers_full_name_trgm"),
    (User, starts_with(User.email, "admin.o"), "ix_users_email_pattern"),
    (User, contains(func.lower(User.display_name), "dmin o"), "ix_users_display_name_trgm"),
])
def test_matches_can_use_their_index(db, make_institution, table, condition, index):
    """On a few thousand rows (this test's transaction only), each match is served by its own index."""
    institution = make_institution()
    db.session.execute(text(
        "INSERT INTO customers (institution_id, full_name, email) SELECT :i, 'Name ' || md5(g::text), "
        "'c' || g || md5(g::text) || '@example.com' FROM generate_series(1, 5000) g"), {"i": institution.id})
    db.session.execute(text(
        "INSERT INTO users (email, display_name, role) SELECT 'u' || g || md5(g::text) || '@example.com', "
        "'Name ' || md5(g::text), 'admin' FROM generate_series(1, 5000) g"))
    for gin in ("ix_customers_full_name_trgm", "ix_users_display_name_trgm"):  # as autovacuum would
        db.session.execute(text("SELECT gin_clean_pending_list(CAST(:name AS regclass))"), {"name": gin})
    db.session.execute(text("ANALYZE customers"))
    db.session.execute(text("ANALYZE users"))
    statement = select(table.id).where(condition).compile(db.engine)
    connection = db.session.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # small tables: ask which index serves
    plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", statement.params))
    assert index in plan, plan
