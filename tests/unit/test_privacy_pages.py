"""The privacy pages and the privacy officer: registering through the form, the subject's link,
decisions behind step-up, the list's filters, the records of processing, reminders."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.database import utcnow
from app.platform.models import Customer
from app.privacy import reminders, verification
from app.privacy import services as privacy
from app.privacy.models import PrivacyRequest
from app.security.actor import Actor
from app.settings import services as settings
from app.users.models import Role
from tests.conftest import DEFAULT_PASSWORD, FormClient, link_in

SYSTEM = Actor.system("test")


@pytest.fixture
def officer(make_user, staff, step_up):
    """A privacy officer signed in, with a fresh step-up."""
    forms = staff(make_user(Role.PRIVACY_OFFICER, email="po@example.com", display_name="Putri Privasi"))
    step_up(forms)
    return forms


def new_request(customer, kind="rectification", jurisdiction="gdpr", received_at=None) -> PrivacyRequest:
    return privacy.register_request(SYSTEM, subject_type="customer", subject_id=customer.id, kind=kind,
                                    channel="phone", jurisdiction=jurisdiction, received_at=received_at or utcnow())


def local_input(moment) -> str:
    """A datetime-local form value in the portal's zone (UTC+7)."""
    return (moment + timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M")


def test_a_privacy_officer_lands_on_the_requests_and_sees_only_privacy_and_audit(app, client, make_user, login_as):
    without_second_factor = make_user(Role.PRIVACY_OFFICER)
    first = FormClient(app.test_client()).post("/login", {"email": without_second_factor.email,
                                                          "password": DEFAULT_PASSWORD})
    assert first.headers["Location"] == "/account/two-factor/required?next=/privacy/requests"  # required by default
    officer = make_user(Role.PRIVACY_OFFICER, with_2fa=True)
    assert login_as(officer).headers["Location"] == "/privacy/requests"
    page = client.get("/privacy/requests").get_data(as_text=True)
    nav = page.split('id="main-nav"', 1)[1].split("</ul>", 1)[0]
    assert ">Privacy<" in nav and ">Audit log<" in nav
    assert ">Dashboard<" not in nav and ">Operations<" not in nav and ">Users<" not in nav
    assert client.get("/dashboard").status_code == 403 and client.get("/customers").status_code == 403


def test_superadmins_find_the_privacy_pages_under_operations(make_user, staff):
    page = staff(make_user(Role.SUPERADMIN)).client.get("/dashboard").get_data(as_text=True)
    nav = page.split('id="main-nav"', 1)[1].split("</nav>", 1)[0]
    menu = nav.split(">Operations<", 1)[1].split("</ul>", 1)[0]
    assert 'href="/privacy/requests"' in menu and 'href="/privacy/records"' in menu
    assert nav.count('href="/privacy/requests"') == 1  # no item of its own: the row stays one line


def test_only_a_superadmin_can_make_someone_a_privacy_officer(make_user, staff):
    superadmin = staff(make_user(Role.SUPERADMIN)).client.get("/users/new").get_data(as_text=True)
    admin = staff(make_user(Role.ADMIN)).client.get("/users/new").get_data(as_text=True)
    assert 'value="privacy_officer"' in superadmin and 'value="privacy_officer"' not in admin


def test_register_find_the_subject_mail_the_link_and_the_subject_confirms(app, db, officer, make_customer,
                                                                          outbox):
    customer = make_customer(full_name="Dewi Lestari", email="dewi@contoh.co.id")
    found = officer.client.get("/privacy/requests/new?type=customer&q=DEWI@contoh.co.id").get_data(as_text=True)
    assert "Dewi Lestari" in found and f"subject=customer:{customer.id}" in found
    nothing = officer.client.get("/privacy/requests/new?type=customer&q=nobody@contoh.co.id").get_data(as_text=True)
    assert 'data-testid="no-subject"' in nothing
    form_url = f"/privacy/requests/new?subject=customer:{customer.id}"
    bad = officer.post("/privacy/requests/new", {"subject": f"customer:{customer.id}", "kind": "erasure",
                                                 "channel": "email", "jurisdiction": "", "received_at": "yesterday"},
                       page=form_url)
    body = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "Choose the law." in body and "Enter a date and time." in body
    received = utcnow() - timedelta(hours=2)
    done = officer.post("/privacy/requests/new", {"subject": f"customer:{customer.id}", "kind": "erasure",
                                                  "channel": "email", "jurisdiction": "uu_pdp",
                                                  "received_at": local_input(received), "details": "Hapus data saya",
                                                  "send_link": "y"}, page=form_url)
    req = db.session.scalars(select(PrivacyRequest)).one()
    assert done.status_code == 302 and done.headers["Location"] == f"/privacy/requests/{req.id}"
    assert req.received_at == received.replace(second=0, microsecond=0)
    assert req.due_at == req.received_at + timedelta(hours=72)
    [message] = outbox
    assert message["To"] == "dewi@contoh.co.id" and "Hello Dewi Lestari" in message.get_content()

    link = link_in(message, "/privacy/confirm/")
    subject = FormClient(app.test_client())
    opened = subject.client.get(link)
    assert opened.status_code == 200 and "Dewi" not in opened.get_data(as_text=True)  # no personal data shown
    db.session.refresh(req)
    assert req.status == "received"  # opening the link confirms nothing
    confirmed = subject.post(link, {})
    assert confirmed.status_code == 200 and req.reference in confirmed.get_data(as_text=True)
    db.session.refresh(req)
    assert req.status == "verified" and req.verification_method == "email_link"
    assert subject.client.get(link).status_code == 410
    detail = officer.client.get(f"/privacy/requests/{req.id}").get_data(as_text=True)
    assert "Confirmed from the registered e-mail address" in detail and "Hapus data saya" in detail
    assert detail.count('class="list-group-item"') == 3  # registered, link sent, verified


def test_verify_by_hand_then_complete_behind_step_up(db, make_user, staff, officer, make_customer):
    req = new_request(make_customer())
    db.session.commit()
    url = f"/privacy/requests/{req.id}"
    refused = officer.post(f"{url}/verify", {"method": "id_document", "note": "", "version": req.version}, page=url)
    assert refused.status_code == 400 and "Say what was checked" in refused.get_data(as_text=True)
    assert officer.post(f"{url}/verify", {"method": "id_document", "note": "KTP ends 0420", "version": req.version},
                        page=url).status_code == 302
    fresh = staff(make_user(Role.PRIVACY_OFFICER))  # no step-up yet
    assert fresh.client.get(f"{url}/complete").headers["Location"].startswith("/step-up?next=")
    page = officer.client.get(f"{url}/complete").get_data(as_text=True)
    assert "Make the change in the portal first" in page
    db.session.refresh(req)
    done = officer.post(f"{url}/complete", {"outcome": "fulfilled", "note": "Phone corrected",
                                            "version": req.version}, page=f"{url}/complete")
    assert done.status_code == 302
    db.session.refresh(req)
    assert req.status == "completed" and req.decided_by_id is not None
    again = officer.post(f"{url}/refuse", {"reason": "other", "note": "Changed my mind", "version": req.version},
                         page=url)
    assert "already decided" in again.get_data(as_text=True)


def test_completing_an_erasure_erases_and_a_refused_one_says_why(db, officer, make_customer, make_transaction):
    held = make_customer(full_name="Ani Held")
    make_transaction(customer=held)  # a payment waiting for a decision keeps the customer
    req = new_request(held, kind="erasure")
    verification.record_manual_check(SYSTEM, req, "signed_letter", "Signed letter matches the file")
    db.session.commit()
    page = officer.client.get(f"/privacy/requests/{req.id}/complete").get_data(as_text=True)
    assert 'data-testid="not-available"' not in page
    posted = officer.post(f"/privacy/requests/{req.id}/complete", {"outcome": "fulfilled", "note": "Erased",
                                                                   "version": req.version}, page="/privacy/requests")
    assert posted.status_code == 302
    assert "The erasure was refused" in officer.client.get(posted.headers["Location"]).get_data(as_text=True)
    db.session.refresh(req)
    assert req.status == "verified" and db.session.get(Customer, held.id).full_name == "Ani Held"

    gone = make_customer(full_name="Budi Gone")
    req = new_request(gone, kind="erasure")
    verification.record_manual_check(SYSTEM, req, "signed_letter", "Signed letter matches the file")
    db.session.commit()
    posted = officer.post(f"/privacy/requests/{req.id}/complete", {"outcome": "fulfilled", "note": "Erased",
                                                                   "version": req.version}, page="/privacy/requests")
    assert posted.status_code == 302
    db.session.refresh(req)
    assert req.status == "completed"
    assert db.session.get(Customer, gone.id).full_name.startswith("Erased subject #")


def test_completing_an_access_request_leads_to_its_export(db, officer, make_customer, jobs_stay_queued):
    req = new_request(make_customer(full_name="Citra Akses"), kind="access")
    verification.record_manual_check(SYSTEM, req, "id_document", "Identity card seen at the branch")
    db.session.commit()
    posted = officer.post(f"/privacy/requests/{req.id}/complete", {"outcome": "fulfilled", "note": "Sent the export",
                                                                   "version": req.version}, page="/privacy/requests")
    assert posted.status_code == 302
    job_id = re.fullmatch(r"/privacy/exports/([0-9A-Za-z-]+)", posted.headers["Location"]).group(1)
    page = officer.client.get(posted.headers["Location"]).get_data(as_text=True)
    assert f"{req.reference} is completed. The export" in page and 'data-testid="export-job"' in page
    db.session.refresh(req)
    assert req.status == "completed" and f"(job {job_id})" in req.events[-1].note and jobs_stay_queued == [job_id]


def test_the_list_filters_by_deadline_status_kind_and_due_date(db, officer, make_customer):
    now = utcnow()
    overdue = new_request(make_customer(), kind="access", received_at=now - timedelta(days=40))
    soon = new_request(make_customer(), kind="restriction", jurisdiction="uu_pdp",
                       received_at=now - timedelta(hours=50))
    later = new_request(make_customer(), kind="objection", received_at=now - timedelta(days=1))
    done = new_request(make_customer(), kind="rectification")
    verification.record_manual_check(SYSTEM, done, "callback", "Called back")
    privacy.complete_request(SYSTEM, done, "fulfilled", "Corrected")
    db.session.commit()

    def listed(query=""):
        page = officer.client.get(f"/privacy/requests{query}")
        assert page.status_code == 200, page.get_data(as_text=True)[:300]
        return re.findall(r'href="/privacy/requests/(\d+)">DSR-', page.get_data(as_text=True))

    assert listed() == [str(r.id) for r in (overdue, soon, later)]  # open ones, earliest deadline first
    assert listed("?deadline=overdue") == [str(overdue.id)]
    assert listed("?deadline=due_soon") == [str(soon.id)]
    assert listed("?status=completed") == [str(done.id)]
    assert listed("?status=&kind=objection") == [str(later.id)]
    day = (later.due_at + timedelta(hours=7)).date().isoformat()
    assert listed(f"?status=&due_from={day}&due_to={day}") == [str(later.id)]
    bad = officer.client.get("/privacy/requests?deadline=tomorrow&due_from=2027-13-01").get_data(as_text=True)
    assert "Choose one of the offered values." in bad and "Enter dates as YYYY-MM-DD." in bad
    export = officer.client.get("/privacy/requests?status=&format=csv", buffered=True).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(export)))
    assert len(rows) == 4 and rows[0]["subject_type"] == "customer" and "@" not in export  # pseudonymous


def test_records_of_processing_follow_the_catalogue_and_the_settings(db, officer):
    settings.update(SYSTEM, "audit_retention_days", 400)
    settings.update(SYSTEM, "privacy_controller_name", "PT Saintara Data")
    db.session.commit()
    page = officer.client.get("/privacy/records").get_data(as_text=True)
    assert "PT Saintara Data" in page and "Customer identity and contact" in page and "Legal obligation" in page
    assert re.search(r'data-testid="retention-security_records">\s*400 days', page)
    assert "data-print" in page
    download = officer.client.get("/privacy/records.csv")
    assert download.headers["Content-Disposition"].startswith('attachment; filename="records-of-processing-')
    rows = {row["category"]: row for row in csv.DictReader(io.StringIO(download.get_data(as_text=True)))}
    assert rows["security_records"]["retention_days"] == "400" and rows["financial_records"]["erasable_on_request"] \
        == "no"
    assert rows["customer_identity"]["controller"] == "PT Saintara Data"


def test_reminders_mail_officers_once_a_day_about_due_and_overdue_requests(app, db, make_user, make_customer, outbox):
    make_user(Role.PRIVACY_OFFICER, email="po1@example.com")
    make_user(Role.SUPERADMIN, email="boss@example.com")
    now = utcnow()
    overdue = new_request(make_customer(full_name="Agus Wijaya"), received_at=now - timedelta(days=35))
    soon = new_request(make_customer(), kind="access", jurisdiction="uu_pdp", received_at=now - timedelta(hours=40))
    new_request(make_customer(), received_at=now)  # due in a month: not yet
    db.session.commit()
    run = reminders.send_reminders(SYSTEM, now=now)
    db.session.commit()
    assert run.reminded == [overdue.reference, soon.reference] and run.recipients == ["po1@example.com"]
    [message] = outbox
    body = message.get_content()
    assert message["To"] == "po1@example.com" and "OVERDUE" in body and soon.reference in body
    assert "Agus" not in body and "@contoh" not in body  # references only, never the subject
    assert reminders.send_reminders(SYSTEM, now=now + timedelta(hours=3)).reminded == []  # same day
    db.session.commit()
    tomorrow = reminders.send_reminders(SYSTEM, now=now + timedelta(days=1))
    db.session.commit()
    assert tomorrow.reminded == [overdue.reference, soon.reference] and len(outbox) == 2
    assert db.session.scalars(select(AuditLog.action).where(AuditLog.action == "PRIVACY_REQUEST_REMIND")).all() \
        == ["PRIVACY_REQUEST_REMIND"] * 4


def test_reminders_go_to_superadmins_when_there_is_no_privacy_officer(db, make_user, make_customer, outbox):
    make_user(Role.SUPERADMIN, email="boss@example.com")
    make_user(Role.PRIVACY_OFFICER, email="gone@example.com", active=False)
    new_request(make_customer(), received_at=utcnow() - timedelta(days=35))
    db.session.commit()
    assert reminders.send_reminders(SYSTEM).recipients == ["boss@example.com"]


def test_the_remind_command(runner, db, make_user, make_customer):
    req = new_request(make_customer(), received_at=utcnow() - timedelta(days=35))
    db.session.commit()
    nobody = runner.invoke(args=["privacy", "remind"])
    assert nobody.exit_code == 1 and "no active privacy officer" in nobody.output
    db.session.refresh(req)
    assert req.reminded_on is None  # not recorded when nobody was mailed
    make_user(Role.PRIVACY_OFFICER, email="po@example.com")
    first = runner.invoke(args=["privacy", "remind"])
    assert first.exit_code == 0 and f"Reminded po@example.com about {req.reference}" in first.output
    second = runner.invoke(args=["privacy", "remind"])
    assert second.exit_code == 0 and "Nothing to remind about today." in second.output


def test_before_verification_the_refuse_page_offers_only_the_identity_reason(db, officer, make_customer):
    req = new_request(make_customer())
    db.session.commit()
    url = f"/privacy/requests/{req.id}/refuse"
    page = officer.client.get(url).get_data(as_text=True)
    assert 'value="identity_not_verified"' in page and 'value="legal_hold"' not in page
    refused = officer.post(url, {"reason": "legal_hold", "note": "Kept by law", "version": req.version})
    assert refused.status_code == 400
    done = officer.post(url, {"reason": "identity_not_verified", "note": "No answer in 30 days",
                              "version": req.version})
    assert done.status_code == 302
    db.session.refresh(req)
    assert (req.status, req.refusal_reason) == ("refused", "identity_not_verified")


def test_the_reminder_links_to_each_request_when_the_public_address_is_known(app, runner, db, make_user,
                                                                            make_customer, outbox, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://admin.example.com")
    make_user(Role.PRIVACY_OFFICER, email="po@example.com")
    req = new_request(make_customer(), received_at=utcnow() - timedelta(days=35))
    db.session.commit()
    assert runner.invoke(args=["privacy", "remind"]).exit_code == 0
    assert f"https://admin.example.com/privacy/requests/{req.id}" in outbox[-1].get_content()
