"""The access export on PostgreSQL: a large-ish customer read in keyset batches, along the
indexes, in memory that does not grow with the size of the export."""

from __future__ import annotations

import json
import tracemalloc
import zipfile

import pytest
from sqlalchemy import event, text

from app.privacy import export, export_audit
from app.privacy.export_zip import ExportWriter
from app.security.actor import Actor
from app.users.models import Role

pytestmark = pytest.mark.integration
PAYMENTS, ABOUT, LOGINS, NOISE = 20_000, 400, 400, 60_000


@pytest.fixture
def big_customer(db, make_customer, make_user, write_audit):
    """A customer with 20,000 payments and 800 sealed audit entries, among 60,000 entries of others."""
    customer = make_customer(full_name="Wulan Sari", email="wulan@contoh.co.id")
    account = make_user(Role.CUSTOMER, email="wulan.login@contoh.co.id", institution=customer.institution)
    account.customer_id = customer.id
    db.session.commit()
    _payments(db, customer, 1, PAYMENTS)
    staff = Actor(user_id=900, email="staff@example.com", role="admin", ip="10.0.0.9")
    for n in range(ABOUT):
        write_audit("CUSTOMER_UPDATE", actor=staff, resource=customer, description=f"Edited {customer.email}",
                    changes={"phone": {"before": f"+62 {n}", "after": f"+62 {n + 1}"}})
    own = Actor.for_user(account, ip="36.1.2.3")
    for _n in range(LOGINS):
        write_audit("LOGIN_SUCCESS", actor=own, resource=account, description="Signed in")
    db.session.execute(text(
        "INSERT INTO audit_logs (created_at, actor_id, actor_email, action, resource_type, resource_id, description,"
        " result, prev_hash, hash) SELECT now() - make_interval(secs => i), 900, 'someone@example.com',"
        " 'CUSTOMER_UPDATE', 'customer', (1000000 + i % 5000)::text, 'Edited someone', 'success',"
        " repeat('0', 64), repeat('0', 64) FROM generate_series(1, :n) AS i"), {"n": NOISE})
    db.session.execute(text("ANALYZE audit_logs"))
    return customer, account


def _payments(db, customer, first: int, n: int) -> None:
    db.session.execute(text(
        "INSERT INTO transactions (reference, customer_id, institution_id, amount_idr, description, status, created_at,"
        " version) SELECT 'TRX-BIG-' || i, :customer, :institution, 1000 * i, 'Payment ' || i, 'pending',"
        " now() - make_interval(secs => i), 1 FROM generate_series(:first, :last) AS i"),
        {"customer": customer.id, "institution": customer.institution_id, "first": first, "last": first + n - 1})
    db.session.execute(text("ANALYZE transactions"))


def _measured(path, customer) -> tuple[int, int]:
    """(peak bytes allocated while exporting, bytes written into the ZIP's files)."""
    tracemalloc.start()
    try:
        export.export_subject("customer", customer.id, ExportWriter(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    return peak, sum(f["bytes"] for f in manifest["files"])


def test_a_large_export_is_read_in_keyset_batches_along_the_indexes(db, big_customer, tmp_path, monkeypatch):
    customer, _account = big_customer
    monkeypatch.setattr(export, "BATCH", 1000)
    monkeypatch.setattr(export_audit, "BATCH", 150)
    statements: list[tuple[str, dict]] = []
    connection = db.session.connection()

    def record(_conn, _cursor, statement, parameters, _context, _executemany):
        statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        path = tmp_path / "export.zip"
        export.export_subject("customer", customer.id, ExportWriter(path))
    finally:
        event.remove(connection, "before_cursor_execute", record)
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    assert manifest["counts"]["transactions"] == PAYMENTS
    assert manifest["counts"]["audit_entries"] == ABOUT + LOGINS + 1  # and the account's creation

    payments = [s for s, _p in statements if s.startswith("SELECT transactions.id") and "LIMIT" in s]
    assert len(payments) == PAYMENTS // 1000 + 1  # twenty full batches, then an empty one
    assert all("transactions.id >" in s for s in payments[1:])  # each batch starts after the last one read
    audits = [(s, p) for s, p in statements if "FROM audit_logs" in s and "LIMIT" in s]
    # About the customer: 400 entries in 3 batches of 150 at most; about the account: 401 in 3; made by the
    # account: its 400 sign-ins again (already written under "about the account", so skipped) in 3.
    assert len(audits) == 3 + 3 + 3
    for statement, parameters in audits:
        plan = json.dumps(connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar())
        assert '"Seq Scan"' not in plan, plan
        assert "ix_audit_logs_resource" in plan or "ix_audit_logs_actor_id" in plan, plan


def test_memory_stays_flat_when_the_export_doubles(db, big_customer, tmp_path):
    customer, _account = big_customer
    # A first run loads what any export loads once (the README's Indonesian catalogs, compiled statements).
    export.export_subject("customer", customer.id, ExportWriter(tmp_path / "warm-up.zip"))
    peak, written = _measured(tmp_path / "first.zip", customer)
    _payments(db, customer, PAYMENTS + 1, PAYMENTS)
    peak_twice, written_twice = _measured(tmp_path / "second.zip", customer)
    assert written_twice > 1.8 * written > 12_000_000
    # The batches and buffers are the same size however much is exported: the peak does not follow the data.
    assert peak_twice < 1.25 * peak, (peak, peak_twice, written, written_twice)
