"""A person's data from start to end, in Chromium: a backup holds them; an access request brings
their export (downloaded and opened); an erasure request erases them; the audit chain still
verifies; restoring the older backup does not bring them back (the erasure ledger is re-applied
before the portal serves again), and the chain verifies again."""

from __future__ import annotations

import json
import re
import uuid
import zipfile

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import link_in
from tests.e2e.conftest import SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD, flask_cli
from tests.e2e.test_backups_flow import jobs_worker, sql
from tests.e2e.test_sign_in_flow import sign_in

pytestmark = pytest.mark.e2e
LONG = 120_000  # ms: a backup, an export or a restore on the worker, on two busy cores


@pytest.fixture
def person(live_app):
    """A customer with two settled payments (nothing open keeps them from being erased)."""
    from sqlalchemy import select, text

    from app.database import utcnow
    from app.extensions import db
    from app.platform.models import Customer, Institution

    stamp = uuid.uuid4().hex[:8]
    with live_app.app_context():
        institution_id = db.session.scalar(select(Institution.id).order_by(Institution.id).limit(1))
        row = Customer(institution_id=institution_id, full_name="Rina Lupakan", phone="+62 811 7777 1234",
                       email=f"rina-{stamp}@contoh.id")
        db.session.add(row)
        db.session.flush()
        db.session.execute(text(
            "INSERT INTO transactions (reference, customer_id, institution_id, amount_idr, description, status,"
            " created_at, decided_at, version) SELECT 'TRX-RINA-' || :stamp || '-' || i, :customer, :institution,"
            " 250000 * i, 'Payment ' || i, 'approved', :now, :now, 1 FROM generate_series(1, 2) AS i"),
            {"stamp": stamp, "customer": row.id, "institution": institution_id, "now": utcnow()})
        db.session.commit()
        return {"id": row.id, "email": row.email, "name": row.full_name}


def confirm_identity(page: Page) -> None:
    """Step-up when the portal asks for it (it asks once every few minutes)."""
    if page.get_by_role("heading", name="Confirm it is you").is_visible():
        page.get_by_label("Password").fill(SUPERADMIN_PASSWORD)
        page.get_by_role("button", name="Continue").click()


def register_confirm_and_open(page: Page, browser: Browser, live_server, smtp_server, person, kind: str) -> str:
    """Register a request about ``person``, confirm it from the mailed link; returns its page's URL."""
    page.goto("/privacy/requests")
    page.get_by_role("link", name="Register a request").first.click()
    page.get_by_label("The subject is a").select_option("customer")
    page.get_by_label("Registered e-mail address, or number").fill(person["email"])
    page.get_by_label("Registered e-mail address, or number").press("Enter")
    page.get_by_role("link", name=f"Register a request about {person['name']}").click()
    page.get_by_label("What the subject asks for").select_option(kind)
    page.get_by_label("Received by").select_option("email")
    page.get_by_label("Handled under").select_option("uu_pdp")
    page.get_by_role("button", name="Register the request").click()
    reference = re.search(r"DSR-\d{5}", page.get_by_role("heading", level=1).inner_text()).group(0)
    request_url = page.url

    link = link_in(smtp_server.wait_for(person["email"], subject=reference), "/privacy/confirm/")
    context = browser.new_context(base_url=live_server)
    subject = context.new_page()
    subject.goto(link)
    subject.get_by_role("button", name="Yes, I made this request").click()
    expect(subject.get_by_test_id("confirmed")).to_contain_text(reference)
    context.close()

    page.goto(request_url)
    expect(page.get_by_test_id("request-status")).to_have_text("Identity verified")
    page.get_by_role("link", name="Complete…").click()
    confirm_identity(page)
    expect(page.get_by_role("heading", name=re.compile(f"Complete {reference}"))).to_be_visible()
    return request_url


def audit_verifies(live_env) -> str:
    output = flask_cli(live_env, "audit", "verify")  # exits 0 only when the whole chain verifies
    assert output.startswith("OK: "), output
    return output


def test_export_erase_verify_restore_and_still_erased(page: Page, browser: Browser, live_server, live_env,
                                                      smtp_server, person, audit_entries, tmp_path,
                                                      csp_violations):
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    with jobs_worker(live_env):
        # An edit of the person is audited: their values in it are sealed under their key.
        page.goto(f"/customers/{person['id']}/edit")
        page.get_by_label("Phone").fill("+62 811 7777 9999")
        page.get_by_role("button", name=re.compile("^Save")).click()
        expect(page.get_by_role("heading", name=person["name"])).to_be_visible()

        # The older backup: it holds the person, readable, with their key.
        page.goto("/backups/")
        page.get_by_role("button", name="Back up now").click()
        expect(page.get_by_test_id("backup-job-message")).to_contain_text("was created and verified", timeout=LONG)
        backup_id = page.get_by_test_id("backup-list").locator("tbody tr").first.get_attribute("data-backup-id")

        # Access: the completed request leads to its export; the ZIP holds the person's data.
        register_confirm_and_open(page, browser, live_server, smtp_server, person, "access")
        page.get_by_label("Outcome").select_option("fulfilled")
        page.get_by_label("What was done").fill("Export sent to the subject")
        page.get_by_role("button", name="Complete the request").click()
        expect(page).to_have_url(re.compile(r"/privacy/exports/[0-9A-Za-z-]+$"))
        expect(page.get_by_test_id("export-job-message")).to_contain_text("The export is ready: 2 payments",
                                                                         timeout=LONG)
        with page.expect_download() as info:
            page.get_by_role("button", name="Download the ZIP file").click()
        saved = tmp_path / "export.zip"
        info.value.save_as(saved)
        with zipfile.ZipFile(saved) as archive:
            [record] = json.loads(archive.read("customer.json"))
            audit_text = archive.read("audit_entries.json").decode("utf-8")
        assert (record["full_name"], record["email"], record["phone"]) == (person["name"], person["email"],
                                                                           "+62 811 7777 9999")
        assert "+62 811 7777 1234" in audit_text  # the audited edit, revealed for the subject

        # Erasure: completing the request erases; the pages show the pseudonym, the chain still verifies.
        request_url = register_confirm_and_open(page, browser, live_server, smtp_server, person, "erasure")
        page.get_by_label("Outcome").select_option("fulfilled")
        page.get_by_label("What was done").fill("Erased on the subject's request")
        page.get_by_role("button", name="Complete the request").click()
        page.goto(request_url)
        timeline = page.get_by_test_id("timeline")
        expect(timeline).to_contain_text("Erased as subject #")
        subject_id = re.search(r"Erased as subject #(\d+)", timeline.inner_text()).group(1)
        pseudonym = f"Erased subject #{subject_id}"
        page.goto(f"/customers/{person['id']}")
        expect(page.get_by_role("heading", name=pseudonym)).to_be_visible()
        page.get_by_test_id("history-link").first.click()
        entries = page.get_by_test_id("audit-entries")
        expect(entries).to_contain_text(f"erased subject #{subject_id}")
        expect(entries).not_to_contain_text(person["name"])
        audit_verifies(live_env)

        # Restore the older backup: the person must stay erased.
        page.goto("/backups/")
        page.get_by_test_id("backup-list").locator(f"tr[data-backup-id='{backup_id}']").get_by_role(
            "link", name="Restore").click()
        confirm_identity(page)
        expect(page.get_by_role("heading", name=f"Restore backup {backup_id}")).to_be_visible()
        page.get_by_label("Backup id").fill(backup_id)
        page.get_by_role("button", name="Restore this backup").click()
        expect(page.get_by_test_id("backup-job-message")).to_contain_text(
            f"Backup {backup_id} was restored.", timeout=LONG)

    page.goto(f"/customers/{person['id']}")
    expect(page.get_by_role("heading", name=pseudonym)).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(person["name"])
    expect(page.locator("main")).not_to_contain_text(person["email"])
    page.get_by_test_id("history-link").first.click()
    expect(page.get_by_test_id("audit-entries")).to_contain_text(f"erased subject #{subject_id}")
    expect(page.get_by_test_id("audit-entries")).not_to_contain_text(person["name"])
    assert sql(live_env, "SELECT full_name, email, phone FROM customers WHERE id = %s", person["id"]) == [
        (pseudonym, f"erased-customer-{subject_id}@erased.invalid", None)]
    assert sql(live_env, "SELECT wrapped_key IS NULL, erased_at IS NOT NULL FROM data_subjects WHERE id = %s",
               int(subject_id)) == [(True, True)]
    [reapplied] = audit_entries("PRIVACY_LEDGER_REAPPLY", resource_id=backup_id)
    assert reapplied.changes["erasures_reapplied"] >= 1 and person["name"] not in reapplied.description
    audit_verifies(live_env)
    assert csp_violations == []
