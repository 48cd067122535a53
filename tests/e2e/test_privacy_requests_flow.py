"""A data-subject request in Chromium: a privacy officer registers it, the subject confirms it
from the mailed link (aiosmtpd), the officer completes it after a step-up; the records of
processing page."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import link_in
from tests.e2e.conftest import http_sign_in
from tests.e2e.test_sign_in_flow import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_customer(live_app):
    """A customer of the live server with an address of this test's own."""
    from sqlalchemy import select

    from app.extensions import db
    from app.platform.models import Customer, Institution

    email = f"subject-{uuid.uuid4().hex[:8]}@e2e.saintara.id"
    with live_app.app_context():
        institution_id = db.session.scalar(select(Institution.id).order_by(Institution.id).limit(1))
        customer = Customer(institution_id=institution_id, full_name="Wulan Subjek", email=email)
        db.session.add(customer)
        db.session.commit()
        return {"id": customer.id, "email": email, "name": customer.full_name}


def test_register_confirm_from_the_mail_and_complete(page: Page, browser: Browser, live_server, smtp_server,
                                                     make_live_user, live_customer, audit_entries, csp_violations):
    officer = make_live_user("privacy_officer", display_name="Putri Privasi")
    # The role must use two-factor; its grace period leads to enrolment once a day: take today's first.
    assert http_sign_in(live_server, officer["email"], officer["password"]).startswith("/account/two-factor/required")
    sign_in(page, officer["email"], officer["password"])
    expect(page).to_have_url(re.compile(r"/privacy/requests$"))
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Privacy", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Dashboard")).to_have_count(0)

    page.get_by_role("link", name="Register a request").first.click()
    page.get_by_label("The subject is a").select_option("customer")
    page.get_by_label("Registered e-mail address, or number").fill(live_customer["email"].upper())
    page.get_by_label("Registered e-mail address, or number").press("Enter")  # submits with the keyboard
    page.get_by_role("link", name=f"Register a request about {live_customer['name']}").click()
    expect(page.get_by_test_id("chosen-subject")).to_contain_text(live_customer["email"])
    page.get_by_label("What the subject asks for").select_option("rectification")
    page.get_by_label("Received by").select_option("email")
    page.get_by_label("Handled under").select_option("uu_pdp")
    page.get_by_label("What the subject wrote (optional)").fill("Nama saya salah eja")
    expect(page.get_by_label("Mail a confirmation link to the subject's registered address")).to_be_checked()
    page.get_by_role("button", name="Register the request").click()
    expect(page.get_by_text("A confirmation link was mailed to the subject's registered address.")).to_be_visible()
    reference = re.search(r"DSR-\d{5}", page.get_by_role("heading", level=1).inner_text()).group(0)
    expect(page.get_by_test_id("request-status")).to_have_text("Received")
    request_url = page.url

    message = smtp_server.wait_for(live_customer["email"], subject=reference)
    assert "Hello Wulan Subjek" in message.get_content()
    link = link_in(message, "/privacy/confirm/")
    subject_context = browser.new_context(base_url=live_server)
    subject = subject_context.new_page()
    subject.goto(link)
    expect(subject.get_by_role("heading", name="Confirm your request")).to_be_visible()
    expect(subject.get_by_text(reference)).to_be_visible()
    subject.get_by_role("button", name="Yes, I made this request").click()
    expect(subject.get_by_test_id("confirmed")).to_contain_text(reference)
    subject.goto(link)
    expect(subject.get_by_role("heading", name="This link no longer works")).to_be_visible()
    subject_context.close()

    page.goto(request_url)
    expect(page.get_by_test_id("request-status")).to_have_text("Identity verified")
    expect(page.get_by_test_id("verification")).to_contain_text("Confirmed from the registered e-mail address")
    page.get_by_role("link", name="Complete…").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()  # step-up first
    page.get_by_label("Password").fill(officer["password"])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=f"Complete {reference}: Rectification?")).to_be_visible()
    page.get_by_label("Outcome").select_option("fulfilled")
    page.get_by_label("What was done").fill("Name corrected to Wulan Subjek")
    page.get_by_role("button", name="Complete the request").click()
    expect(page.get_by_text(f"{reference} is completed.")).to_be_visible()
    expect(page.get_by_test_id("request-status").first).to_have_text("Completed")
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("li")).to_have_count(4)
    expect(timeline).to_contain_text("data subject (e-mail link)")
    expect(timeline).to_contain_text("Name corrected to Wulan Subjek")

    nav.get_by_role("link", name="Privacy", exact=True).click()
    page.get_by_role("navigation", name="Privacy pages").get_by_role("link", name="Records of processing").click()
    expect(page.get_by_test_id("records-table")).to_contain_text("Customer identity and contact")
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    assert csp_violations == []

    request_id = request_url.rsplit("/", 1)[1]
    [verified] = audit_entries("PRIVACY_REQUEST_VERIFY", resource_id=request_id)
    assert verified.actor_email == "anonymous" and verified.actor_id is None
    [completed] = audit_entries("PRIVACY_REQUEST_COMPLETE", resource_id=request_id)
    assert completed.actor_email == officer["email"] and live_customer["email"] not in (completed.resource_repr or "")
