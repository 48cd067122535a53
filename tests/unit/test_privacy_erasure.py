"""Erasure: the person becomes unreadable everywhere, the payments stay, the chain still verifies."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.audit import integrity
from app.audit import services as audit
from app.audit.models import AuditLog
from app.backups import erasures as erasure_copy
from app.database import transaction
from app.extensions import db as _db
from app.personal_data import ledger, vault
from app.personal_data.models import DataSubject, ErasureRecord
from app.platform.models import Approval, Customer, Transaction
from app.privacy import erasure
from app.security.actor import Actor
from app.security.roles import Role
from app.users.models import User

OFFICER = Actor(user_id=None, email="system:test", role="superadmin")


@pytest.fixture
def budi(db, make_customer, make_transaction, make_approval, make_user, write_audit):
    """A customer with an account, a decided payment, a decided approval and a history."""
    customer = make_customer(full_name="Budi Santoso", email="budi@contoh.co.id", phone="+62 811 222")
    account = make_user(Role.CUSTOMER, email="budi.login@contoh.co.id", display_name="Budi S",
                        institution=customer.institution)
    account.customer_id = customer.id
    payment = make_transaction(customer=customer, status="approved")
    request = make_approval(institution=customer.institution, subject_type="customer", subject_id=str(customer.id),
                            subject_repr="Budi Santoso <budi@contoh.co.id>", status="approved",
                            payload={"full_name": "Budi Santoso", "amount_idr": 5000})
    db.session.commit()
    write_audit("CUSTOMER_UPDATE", resource=customer, description="Edited customer budi@contoh.co.id",
                changes={"phone": {"before": "+62 811 111", "after": "+62 811 222"}})
    write_audit("LOGIN_SUCCESS", actor=Actor(user_id=account.id, email=account.email, role="customer"),
                resource=account, description="Signed in")
    return customer, account, payment, request


def stored_text(db) -> str:
    """Every stored audit value, as one text (what the chain hashes)."""
    rows = db.session.execute(select(AuditLog.actor_email, AuditLog.resource_repr, AuditLog.description,
                                     AuditLog.changes)).all()
    return " ".join(str(value) for row in rows for value in row)


def test_personal_values_are_stored_sealed_and_shown_in_the_clear(db, budi):
    customer, _account, _payment, _request = budi
    text = stored_text(db)
    for value in ("Budi Santoso", "budi@contoh.co.id", "+62 811 111", "budi.login@contoh.co.id"):
        assert value not in text
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "CUSTOMER_UPDATE")).one()
    assert vault.reveal(entry.resource_repr) == "Budi Santoso <budi@contoh.co.id>"
    assert vault.reveal_text(entry.description) == "Edited customer budi@contoh.co.id"
    assert vault.reveal_json(entry.changes) == {"phone": {"before": "+62 811 111", "after": "+62 811 222"}}
    assert integrity.verify_chain().ok


def test_erasure_pseudonymises_keeps_payments_and_the_chain_verifies(db, budi, client_for, make_user):
    customer, account, payment, request = budi
    admin_client = client_for(make_user(Role.SUPERADMIN))
    with transaction():
        receipt = erasure.erase_customer(OFFICER, customer, request_ref="DSR-1")
    subject_id = receipt.subject_id
    assert receipt.kind == "customer" and receipt.accounts_erased == 1 and receipt.payments_kept == 1
    assert "Budi" not in str(receipt.as_json())

    customer, account = db.session.get(Customer, customer.id), db.session.get(User, account.id)
    assert customer.full_name == f"Erased subject #{subject_id}" and customer.phone is None
    assert customer.email == f"erased-customer-{subject_id}@erased.invalid" and not customer.is_active
    assert account.email.endswith("@erased.invalid") and account.password_hash is None
    assert not account.is_active_account
    assert db.session.get(Transaction, payment.id).amount_idr == payment.amount_idr  # kept by law
    request = db.session.get(Approval, request.id)
    assert request.subject_repr == f"Erased subject #{subject_id}" and request.payload["full_name"] is None
    assert request.payload["amount_idr"] == 5000

    assert integrity.verify_chain().ok  # nothing in the chain changed
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "CUSTOMER_UPDATE")).one()
    assert vault.reveal(entry.resource_repr) == f"erased subject #{subject_id}"
    assert vault.reveal_json(entry.changes)["phone"]["before"] == f"erased subject #{subject_id}"
    page = admin_client.get(f"/audit/{entry.id}").get_data(as_text=True)
    assert f"erased subject #{subject_id}" in page and "Budi" not in page and "+62 811 111" not in page
    listing = admin_client.get("/audit?size=200").get_data(as_text=True)
    assert "budi" not in listing.lower()

    erased = db.session.scalars(select(AuditLog).where(AuditLog.action == "PRIVACY_ERASE")).one()
    assert "Budi" not in f"{erased.description} {erased.changes} {erased.resource_repr}"
    assert {(r.kind, r.request_ref) for r in db.session.scalars(select(ErasureRecord))} == {
        ("customer", "DSR-1"), ("user", "DSR-1")}
    assert db.session.scalars(select(DataSubject.wrapped_key).where(DataSubject.erased_at.is_not(None))).all() == [
        None, None]
    # A copy of the ledger waits beside the backups, for a restore on a new server (written after
    # the commit through a connection of its own: tests/integration/test_backups_pg.py sees it).
    erasure_copy.save_copy()


def test_open_business_and_legal_holds_refuse_erasure_and_change_nothing(db, make_customer, make_transaction):
    customer = make_customer(full_name="Sari Dewi")
    make_transaction(customer=customer)  # pending
    db.session.commit()
    with pytest.raises(erasure.ErasureRefused, match="wait for a decision"), transaction():
        erasure.erase_customer(OFFICER, customer)
    settled = make_customer(full_name="Rina Wati")
    db.session.commit()
    with transaction():
        erasure.place_hold(OFFICER, "customer", settled.id, "court order 12/2026")
    with pytest.raises(erasure.ErasureRefused, match="court order"), transaction():
        erasure.erase_customer(OFFICER, settled)
    assert db.session.get(Customer, customer.id).full_name == "Sari Dewi"
    assert db.session.get(Customer, settled.id).full_name == "Rina Wati"
    assert db.session.scalars(select(ErasureRecord)).all() == []
    with transaction():
        erasure.lift_hold(OFFICER, "customer", settled.id)
    with transaction():
        erasure.erase_customer(OFFICER, settled)
    with pytest.raises(erasure.ErasureRefused, match="already been erased"), transaction():
        erasure.erase_customer(OFFICER, db.session.get(Customer, settled.id))


def test_a_failure_half_way_leaves_nothing_half_erased(db, budi, monkeypatch):
    customer, account, _payment, _request = budi

    def crash(*_args, **_kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(erasure, "_audit", crash)  # after the rows and the key, before the commit
    with pytest.raises(RuntimeError), transaction():
        erasure.erase_customer(OFFICER, customer)
    _db.session.expire_all()
    assert db.session.get(Customer, customer.id).full_name == "Budi Santoso"
    assert db.session.get(User, account.id).email == "budi.login@contoh.co.id"
    assert db.session.scalars(select(DataSubject.wrapped_key)).all() and all(
        db.session.scalars(select(DataSubject.wrapped_key)).all())
    assert ledger.ledger() == []
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "CUSTOMER_UPDATE")).one()
    assert vault.reveal(entry.resource_repr) == "Budi Santoso <budi@contoh.co.id>"


def test_the_ledger_erases_again_what_a_restore_brought_back(db, budi):
    customer, _account, _payment, _request = budi
    keys = dict(db.session.execute(select(DataSubject.id, DataSubject.wrapped_key)).all())
    with transaction():
        erasure.erase_customer(OFFICER, customer)
    records = ledger.ledger()
    # What an older backup holds: the person and their keys, as before the erasure.
    with transaction():
        for subject in db.session.scalars(select(DataSubject)):
            subject.wrapped_key, subject.erased_at = keys[subject.id], None
        _db.session.execute(ErasureRecord.__table__.delete())
        db.session.get(Customer, customer.id).full_name = "Budi Santoso"
    with transaction():
        assert ledger.reapply(records) == 2
    assert db.session.get(Customer, customer.id).full_name.startswith("Erased subject #")
    erased = {record["subject_id"] for record in records}
    assert all(db.session.get(DataSubject, subject_id).wrapped_key is None for subject_id in erased)
    assert len(ledger.ledger()) == 2
    with transaction():
        assert ledger.reapply(records) == 0  # idempotent


def test_the_last_superadmin_cannot_be_erased(db, make_user):
    root = make_user(Role.SUPERADMIN)
    with pytest.raises(erasure.ErasureRefused, match="last active superadmin"), transaction():
        erasure.erase_user(OFFICER, root)
    other = make_user(Role.ADMIN, email="leaver@example.com")
    with transaction():
        receipt = erasure.erase_user(OFFICER, other)
    assert db.session.get(User, other.id).display_name == f"Erased subject #{receipt.subject_id}"


def test_the_cli_erases_and_refuses_with_a_reason(db, runner, make_customer, make_transaction):
    customer = make_customer(full_name="Agus")
    make_transaction(customer=customer)
    db.session.commit()
    refused = runner.invoke(args=["privacy", "erase", "customer", str(customer.id), "--yes"])
    assert refused.exit_code == 1 and "erasure refused" in refused.output
    done_customer = make_customer(full_name="Wati")
    db.session.commit()
    done = runner.invoke(args=["privacy", "erase", "customer", str(done_customer.id), "--yes"])
    assert done.exit_code == 0 and '"kind": "customer"' in done.output
    listed = runner.invoke(args=["privacy", "ledger"])
    assert '"kind": "customer"' in listed.output and "Wati" not in listed.output
    assert audit.chain_head()[0] is not None


def test_reapply_ledger_takes_a_copy_from_a_file(db, runner, make_customer, tmp_path):
    customer = make_customer(full_name="Tono")
    db.session.commit()
    keys = dict(db.session.execute(select(DataSubject.id, DataSubject.wrapped_key)).all())
    assert runner.invoke(args=["privacy", "erase", "customer", str(customer.id), "--yes"]).exit_code == 0
    copy = tmp_path / "erasure-ledger.json"
    lines = runner.invoke(args=["privacy", "ledger"]).output.splitlines()
    copy.write_text(json.dumps({"records": [json.loads(line) for line in lines]}))
    # A database restored by hand from before the erasure: the person is back, the ledger empty.
    with transaction():
        _db.session.execute(ErasureRecord.__table__.delete())
        for subject in db.session.scalars(select(DataSubject)):
            subject.wrapped_key, subject.erased_at = keys.get(subject.id), None
        db.session.get(Customer, customer.id).full_name = "Tono"
    bad = tmp_path / "not-a-ledger.txt"
    bad.write_text("hello")
    refused = runner.invoke(args=["privacy", "reapply-ledger", "--file", str(bad)])
    assert refused.exit_code == 1 and "not an erasure ledger" in refused.output
    done = runner.invoke(args=["privacy", "reapply-ledger", "--file", str(copy)])
    assert done.exit_code == 0 and "1 subject(s) erased again" in done.output
    assert db.session.get(Customer, customer.id).full_name.startswith("Erased subject #")
