"""The access export in Chromium: a superadmin starts the export of a customer (behind step-up),
watches its progress while it waits for and then runs on the RQ worker, downloads the ZIP and
opens it: the customer's data is in it, the manifest's checksums match, nobody else's data."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import zipfile

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD
from tests.e2e.test_backups_flow import RECORD_POLLS, jobs_worker
from tests.e2e.test_sign_in_flow import sign_in

pytestmark = pytest.mark.e2e
LONG = 120_000  # ms: the worker starts and runs the job on two busy cores
PAYMENTS = 2_000
STAGES = {"Starting…", "Reading the profile", "Writing the payments", "Writing the approval requests",
          "Writing the audit entries", "Writing the consents", "Packing the ZIP file"}


@pytest.fixture
def customer(live_app, make_live_user):
    """A customer with an account linked to it and 2,000 payments, one decided by a staff member."""
    from sqlalchemy import text

    from app.database import utcnow
    from app.extensions import db
    from app.platform.models import Customer
    from app.users.models import User

    staff = make_live_user("admin", display_name="Putu Staff")
    account = make_live_user("customer", display_name="Ayu Export")
    stamp = uuid.uuid4().hex[:8]
    with live_app.app_context():
        user = db.session.get(User, account["id"])
        row = Customer(institution_id=user.institution_id, full_name="Ayu Export", phone="+62 813 5555",
                       email=f"ayu-{stamp}@e2e.saintara.id")
        db.session.add(row)
        db.session.flush()
        user.customer_id = row.id
        db.session.execute(text(
            "INSERT INTO transactions (reference, customer_id, institution_id, amount_idr, description, status,"
            " created_at, version) SELECT 'TRX-AYU-' || :stamp || '-' || i, :customer, :institution, 1000 * i,"
            " 'Payment ' || i, 'pending', :now, 1 FROM generate_series(1, :n) AS i"),
            {"stamp": stamp, "customer": row.id, "institution": row.institution_id, "now": utcnow(), "n": PAYMENTS})
        db.session.execute(text(
            "UPDATE transactions SET status = 'rejected', decided_at = :now, decided_by_id = :staff,"
            " decision_reason = 'Documents incomplete' WHERE reference = :reference"),
            {"now": utcnow(), "staff": staff["id"], "reference": f"TRX-AYU-{stamp}-1"})
        db.session.commit()
        return {"id": row.id, "email": row.email, "account": account, "staff": staff}


def test_export_a_customer_watch_it_download_and_open_it(page: Page, live_env, customer, audit_entries,
                                                         tmp_path, csp_violations):
    page.add_init_script(RECORD_POLLS)
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    page.goto(f"/customers/{customer['id']}")
    page.get_by_role("link", name="Export personal data").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()  # step-up first
    page.get_by_label("Password").fill(SUPERADMIN_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Export personal data")).to_be_visible()
    expect(page.get_by_test_id("export-person")).to_contain_text(customer["email"])
    page.get_by_label("Request reference (optional)").fill("DSR-E2E-1")
    page.get_by_role("button", name="Start the export").click()

    # No worker yet: the panel says the job waits, and keeps saying so after a reload.
    expect(page).to_have_url(re.compile(r"/privacy/exports/[0-9A-Za-z-]+$"))
    job_id = page.url.rsplit("/", 1)[1]
    panel = page.get_by_test_id("export-job")
    expect(panel).to_contain_text("Waiting for a background worker")
    page.reload()
    expect(panel).to_contain_text("Waiting for a background worker")

    with jobs_worker(live_env):
        expect(page.get_by_test_id("export-job-message")).to_contain_text(
            f"The export is ready: {PAYMENTS:,} payments", timeout=LONG)
    expect(page.locator("[data-job-progress]")).to_have_attribute("value", "100.0")
    polls = page.evaluate("JSON.parse(sessionStorage.getItem('polls') || '[]')")
    assert polls[0]["state"] == "queued" and polls[-1]["state"] == "succeeded"
    assert all(p["title"] == "Export of personal data" for p in polls)
    running = [p for p in polls if p["state"] == "running"]
    assert all(0 <= p["percent"] <= 100 and p["stage_label"] in STAGES for p in running)
    assert [p["percent"] for p in running] == sorted(p["percent"] for p in running)
    checksum = page.get_by_test_id("export-sha256").inner_text()

    with page.expect_download() as info:
        page.get_by_role("button", name="Download the ZIP file").click()
    download = info.value
    assert re.fullmatch(rf"personal-data-customer-{customer['id']}-\S+\.zip", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == checksum

    archive = zipfile.ZipFile(saved)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["subject"] == {"kind": "customer", "id": customer["id"]}
    assert manifest["counts"]["transactions"] == PAYMENTS and manifest["counts"]["accounts"] == 1
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"], entry["name"]
    [record] = json.loads(archive.read("customer.json"))
    assert (record["full_name"], record["email"], record["phone"]) == ("Ayu Export", customer["email"],
                                                                       "+62 813 5555")
    rejected = next(t for t in json.loads(archive.read("transactions.json")) if t["status"] == "rejected")
    assert rejected["decided_by"] == "staff member (admin)"
    text = "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    assert customer["staff"]["email"] not in text and "Putu Staff" not in text and SUPERADMIN_EMAIL not in text
    assert "Data pribadi Anda" in archive.read("README.txt").decode("utf-8")

    [started] = audit_entries("PRIVACY_EXPORT_START", resource_id=str(customer["id"]))
    [downloaded] = audit_entries("PRIVACY_EXPORT_DOWNLOAD", resource_id=str(customer["id"]))
    assert started.actor_email == downloaded.actor_email == SUPERADMIN_EMAIL
    assert started.changes["request"] == "DSR-E2E-1" and job_id in downloaded.description
    assert customer["email"] not in started.description + downloaded.description
    assert csp_violations == []
