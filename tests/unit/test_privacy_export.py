"""The access export's ZIP: every dataset as JSON and CSV, a manifest that matches, the person's
own values revealed, nobody else's data, erased values shown as erased, keyset batches."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.consent import notices
from app.consent import services as consent
from app.consent.models import ConsentSource
from app.database import transaction
from app.privacy import erasure, export, export_audit
from app.privacy.export_people import NoSuchPerson
from app.privacy.export_zip import ExportWriter
from app.security.actor import Actor
from app.users.models import Role

SYSTEM = Actor.system("test")


@pytest.fixture
def sari(db, make_customer, make_transaction, make_approval, make_user, write_audit):
    """A customer with an account, payments decided by staff, a request about her, a history
    written by staff and by herself, a consent; and another customer with a history of his own."""
    customer = make_customer(full_name="Sari Wulandari", email="sari@contoh.co.id", phone="+62 812 3456")
    account = make_user(Role.CUSTOMER, email="sari.login@contoh.co.id", display_name="Sari W",
                        institution=customer.institution)
    account.customer_id = customer.id
    staff = make_user(Role.ADMIN, email="dewi.staff@saintara.id", display_name="Dewi Staff")
    payments = [make_transaction(customer=customer, amount_idr=100_000 * n, reference=f"TRX-SARI-{n}") for n in
                range(1, 4)]
    payments[0].status, payments[0].decided_by_id = "rejected", staff.id
    payments[0].decided_at, payments[0].decision_reason = payments[1].created_at, "Documents incomplete"
    request = make_approval(institution=customer.institution, subject_type="customer", subject_id=str(customer.id),
                            subject_repr="Sari Wulandari <sari@contoh.co.id>", requested_by=staff,
                            payload={"full_name": "Sari Wulandari", "daily_limit_idr": 5_000_000})
    other = make_customer(full_name="Joko Prasetyo", email="joko@contoh.co.id", institution=customer.institution)
    db.session.commit()
    as_staff = Actor.for_user(staff, ip="10.1.1.1", user_agent="StaffBrowser")
    as_sari = Actor.for_user(account, ip="36.80.1.2", user_agent="PhoneBrowser/1.0")
    write_audit("CUSTOMER_UPDATE", actor=as_staff, resource=customer,
                description=f"{staff.email} edited {customer.email}",
                changes={"phone": {"before": "+62 812 0000", "after": "+62 812 3456"}})
    write_audit("LOGIN_SUCCESS", actor=as_sari, resource=account, description="Signed in")
    write_audit("APPROVAL_REQUEST", actor=as_staff, resource=request, description="Requested a limit increase")
    write_audit("CUSTOMER_UPDATE", actor=as_staff, resource=other, description="Edited joko@contoh.co.id")
    write_audit("TRANSACTION_CREATE", actor=as_sari, resource=payments[2], description="Created TRX-SARI-3")
    notices.publish(SYSTEM, "notifications", text_en="Mail me", text_id="Surel", material=True)
    consent.record(as_sari, ("customer", customer.id), "notifications", granted=True, source=ConsentSource.ACCOUNT,
                   notice_version=1)
    db.session.commit()
    return customer, account, staff, payments, request


def run_export(tmp_path, kind, ref_id, **kwargs) -> zipfile.ZipFile:
    path = tmp_path / f"{kind}-{ref_id}.zip"
    export.export_subject(kind, ref_id, ExportWriter(path), **kwargs)
    return zipfile.ZipFile(path)


def rows(archive: zipfile.ZipFile, name: str) -> tuple[list[dict], list[dict]]:
    """The records of a dataset, from its JSON and from its CSV."""
    as_json = json.loads(archive.read(f"{name}.json"))
    as_csv = list(csv.DictReader(io.StringIO(archive.read(f"{name}.csv").decode("utf-8"))))
    assert len(as_json) == len(as_csv)
    return as_json, as_csv


def everything(archive: zipfile.ZipFile) -> str:
    return "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist())


def test_the_zip_holds_every_dataset_and_a_manifest_that_matches(db, sari, tmp_path):
    customer, account, _staff, payments, request = sari
    archive = run_export(tmp_path, "customer", customer.id)
    datasets = ("customer", "accounts", "transactions", "approvals", "audit_entries", "consents")
    assert sorted(archive.namelist()) == sorted(["README.txt", "manifest.json"]
                                                + [f"{d}.{s}" for d in datasets for s in ("json", "csv")])
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["subject"] == {"kind": "customer", "id": customer.id} and manifest["consents_available"]
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == set(archive.namelist()) - {"manifest.json"}
    for name, entry in listed.items():
        data = archive.read(name)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data), name
    assert manifest["counts"] == {"customer": 1, "accounts": 1, "transactions": 3, "approvals": 1,
                                  "audit_entries": 6, "consents": 1}
    assert listed["transactions.csv"]["rows"] == 3

    [record], [record_csv] = rows(archive, "customer")
    assert (record["full_name"], record["email"], record["phone"], record["erased"]) == (
        "Sari Wulandari", "sari@contoh.co.id", "+62 812 3456", False)
    assert record_csv["phone"] == "'+62 812 3456"  # a cell a spreadsheet would read as a formula
    [login] = rows(archive, "accounts")[0]
    assert (login["id"], login["email"], login["role"], login["authenticator_app"]) == (
        account.id, "sari.login@contoh.co.id", "customer", False)
    txs = rows(archive, "transactions")[0]
    assert [t["reference"] for t in txs] == ["TRX-SARI-1", "TRX-SARI-2", "TRX-SARI-3"]
    assert (txs[0]["status"], txs[0]["decided_by"], txs[0]["decision_reason"]) == (
        "rejected", "staff member (admin)", "Documents incomplete")
    [approval] = rows(archive, "approvals")[0]
    assert approval["id"] == request.id and approval["details"]["full_name"] == "Sari Wulandari"
    assert approval["requested_by"] == "staff member (admin)"
    [given] = rows(archive, "consents")[0]
    assert (given["purpose"], given["action"], given["counts_now"], given["recorded_by"]) == (
        "notifications", "grant", True, "sari.login@contoh.co.id")

    readme = archive.read("README.txt").decode("utf-8")
    assert "transactions.json, transactions.csv (3)" in readme and "Your customer record" in readme
    assert "Data pribadi Anda" in readme  # and in Indonesian


def test_audit_entries_reveal_her_values_and_say_why_they_are_included(db, sari, tmp_path):
    customer, account, _staff, payments, request = sari
    entries = rows(run_export(tmp_path, "customer", customer.id), "audit_entries")[0]
    assert [(e["relation"], e["action"]) for e in entries] == [
        ("about_customer", "CUSTOMER_UPDATE"), ("about_customer", "CONSENT_GRANT"),
        ("about_account", "USER_CREATE"), ("about_account", "LOGIN_SUCCESS"),
        ("about_approval", "APPROVAL_REQUEST"), ("by_account", "TRANSACTION_CREATE")]
    by_relation = {e["relation"]: e for e in entries}  # the last of each
    edit = entries[0]
    assert edit["resource"] == "Sari Wulandari <sari@contoh.co.id>"
    assert edit["changes"] == {"phone": {"before": "+62 812 0000", "after": "+62 812 3456"}}
    assert edit["actor"] == "staff member (admin)" and edit["ip"] is None and edit["user_agent"] is None
    assert entries[2]["actor"] == "test"  # made by a command: a system actor, named as it was
    assert edit["description"] == "[another person] edited sari@contoh.co.id"  # the staff member's name withheld
    own = by_relation["about_account"]
    assert (own["action"], own["actor"], own["ip"], own["user_agent"]) == (
        "LOGIN_SUCCESS", "sari.login@contoh.co.id", "36.80.1.2", "PhoneBrowser/1.0")
    assert by_relation["about_approval"]["resource_id"] == str(request.id)
    assert by_relation["by_account"]["resource_id"] == str(payments[2].id)


def test_nobody_elses_data_is_in_the_export(db, sari, tmp_path):
    customer = sari[0]
    text = everything(run_export(tmp_path, "customer", customer.id))
    for value in ("dewi.staff@saintara.id", "Dewi Staff", "10.1.1.1", "StaffBrowser", "Joko", "joko@contoh.co.id",
                  "s1~"):
        assert value not in text, value


def test_an_erased_customer_is_exported_as_erased(db, sari, tmp_path):
    customer, payments = sari[0], sari[3]
    for payment in payments[1:]:
        payment.status, payment.decided_at = "approved", payment.created_at
    sari[4].status, sari[4].decided_at = "approved", sari[4].requested_at
    with transaction():
        receipt = erasure.erase_customer(SYSTEM, customer)
    archive = run_export(tmp_path, "customer", customer.id)
    text = everything(archive)
    for value in ("Sari", "sari@contoh.co.id", "sari.login@contoh.co.id", "+62 812"):
        assert value not in text, value
    [record] = rows(archive, "customer")[0]
    assert record["full_name"] == f"Erased subject #{receipt.subject_id}" and record["erased"] is True
    edit = next(e for e in rows(archive, "audit_entries")[0] if e["relation"] == "about_customer"
                and e["action"] == "CUSTOMER_UPDATE")
    assert edit["resource"] == f"erased subject #{receipt.subject_id}"
    assert edit["changes"]["phone"]["after"] == f"erased subject #{receipt.subject_id}"
    assert len(rows(archive, "transactions")[0]) == 3  # payments are kept by law, and still hers


def test_small_batches_give_every_row_once_in_order(db, sari, make_transaction, write_audit, tmp_path, monkeypatch):
    customer, account = sari[0], sari[1]
    for n in range(7):
        make_transaction(customer=customer, reference=f"TRX-MORE-{n}")
        write_audit("LOGIN_SUCCESS", actor=Actor.for_user(account), resource=account, description="Signed in")
    monkeypatch.setattr(export, "BATCH", 2)
    monkeypatch.setattr(export_audit, "BATCH", 3)
    seen = []
    archive = run_export(tmp_path, "customer", customer.id, progress=lambda stage, percent: seen.append((stage,
                                                                                                         percent)))
    txs = rows(archive, "transactions")[0]
    assert [t["id"] for t in txs] == sorted({t["id"] for t in txs}) and len(txs) == 10
    entries = rows(archive, "audit_entries")[0]
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids)) == 6 + 7
    stored = db.session.scalars(select(AuditLog.id).where(AuditLog.resource_type == "user",
                                                          AuditLog.resource_id == str(account.id))).all()
    assert set(stored) <= set(ids)
    batches = [s for s, _p in seen if s == "transactions"]
    assert len(batches) == 1 + 5  # the stage announced, then one report per batch of two
    percents = [p for _stage, p in seen]
    assert percents == sorted(percents) and percents[-1] == 100
    assert [s for s, _p in seen if s == "transactions"] and seen[-1][0] == "packing"


def test_an_account_export_and_an_unknown_person(db, sari, tmp_path):
    account = sari[1]
    archive = run_export(tmp_path, "user", account.id)
    assert "transactions.json" not in archive.namelist()
    assert json.loads(archive.read("manifest.json"))["counts"]["accounts"] == 1
    assert {e["relation"] for e in rows(archive, "audit_entries")[0]} == {"about_account", "by_account"}
    assert len(rows(archive, "consents")[0]) == 1  # the account gives consent as its customer record
    with pytest.raises(NoSuchPerson):
        export.export_subject("customer", 987654, ExportWriter(tmp_path / "none.zip"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"user-{account.id}.zip"]  # nothing left behind


def test_without_a_consent_store_the_readme_says_so(db, sari, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "_consent_source", [])
    archive = run_export(tmp_path, "customer", sari[0].id)
    assert "consents.json" not in archive.namelist()
    assert "keeps no consent records" in archive.read("README.txt").decode()
