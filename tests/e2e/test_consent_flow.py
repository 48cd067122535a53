"""Consent in Chromium: a superadmin publishes the notifications notice, a customer agrees on their
account page, a payment of theirs is decided and the mail arrives (aiosmtpd); after they withdraw,
a decision sends nothing."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD
from tests.e2e.test_sign_in_flow import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def customer_with_payments(live_app, make_live_user):
    """A customer's portal account linked to its customer record, which has three pending payments."""
    from app.database import utcnow
    from app.extensions import db
    from app.platform.models import Customer, Transaction
    from app.users.models import User

    account = make_live_user("customer", display_name="Ani Consent")
    stamp = uuid.uuid4().hex[:8].upper()
    with live_app.app_context():
        user = db.session.get(User, account["id"])
        customer = Customer(institution_id=user.institution_id, full_name="Ani Consent",
                            email=f"ani-{stamp.lower()}@e2e.saintara.id")
        db.session.add(customer)
        db.session.flush()
        user.customer_id = customer.id
        references = [f"TRX-CONSENT-{stamp}-{n}" for n in range(1, 4)]
        rows = [Transaction(reference=reference, customer_id=customer.id, institution_id=customer.institution_id,
                            amount_idr=250_000 * n, created_at=utcnow()) for n, reference in enumerate(references, 1)]
        db.session.add_all(rows)
        db.session.commit()
        return {**account, "transactions": {row.reference: row.id for row in rows}}


def publish_notifications_notice(page: Page) -> str:
    text = f"We e-mail you when a payment of yours is decided ({uuid.uuid4().hex[:6]})."
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    page.get_by_role("button", name="Operations").click()
    page.get_by_role("link", name="Consent notices").click()
    page.get_by_test_id("notice-row-notifications").get_by_role(
        "link", name=re.compile(r"Publish (the first|a new) version")).click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()  # step-up first
    page.get_by_label("Password").fill(SUPERADMIN_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Notice in English").fill(text)
    page.get_by_label("Notice in Indonesian").fill("Kami mengirim surel saat pembayaran Anda diputuskan.")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text(re.compile(r"Version \d+ of the notice is published."))).to_be_visible()
    return text


def approve(page: Page, transaction_id: int, reference: str) -> None:
    page.goto(f"/transactions/{transaction_id}")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text(f"{reference} approved.")).to_be_visible()


def save_choice(page: Page, give: bool) -> None:
    box = page.get_by_role("checkbox", name="Notifications")
    box.check() if give else box.uncheck()
    page.get_by_role("button", name="Save my choices").click()


def test_the_decision_mail_follows_the_customers_consent(page: Page, browser: Browser, live_server, smtp_server,
                                                         customer_with_payments, audit_entries, csp_violations):
    notice = publish_notifications_notice(page)
    ids = customer_with_payments["transactions"]
    first, second, third = ids
    email = customer_with_payments["email"]

    own_context = browser.new_context(base_url=live_server)
    own = own_context.new_page()
    sign_in(own, email, customer_with_payments["password"])
    expect(own).to_have_url(re.compile(r"/account$"))
    choices = own.get_by_test_id("consent-choices")
    expect(choices).to_contain_text(notice)
    box = own.get_by_role("checkbox", name="Notifications")
    expect(box).not_to_be_checked()  # nothing is given until the customer gives it
    box.focus()
    own.keyboard.press("Space")  # the choice works from the keyboard
    expect(box).to_be_checked()
    own.get_by_role("button", name="Save my choices").click()
    expect(own.get_by_text("You agreed to: Notifications.")).to_be_visible()
    expect(own.get_by_role("checkbox", name="Notifications")).to_be_checked()

    approve(page, ids[first], first)
    message = smtp_server.wait_for(email, subject=first)
    assert message["Subject"] == f"Payment {first} was approved / Pembayaran {first} disetujui"
    assert re.search(r"https?://[^/\s]+/account/consent\b", message.get_content())

    save_choice(own, give=False)  # withdrawing: the same box, the same button
    expect(own.get_by_text("You withdrew your consent to: Notifications.")).to_be_visible()
    expect(own.get_by_role("checkbox", name="Notifications")).not_to_be_checked()
    approve(page, ids[second], second)

    # Agree again and decide a third payment: its mail arrives, and the second one's never did
    # (its mail, had there been one, was handed to the SMTP server before this decision was made).
    save_choice(own, give=True)
    approve(page, ids[third], third)
    smtp_server.wait_for(email, subject=third)
    assert [m["Subject"] for m in smtp_server.messages if m["To"] == email and second in m["Subject"]] == []
    own_context.close()

    grants = audit_entries("CONSENT_GRANT", actor_id=customer_with_payments["id"])
    withdrawals = audit_entries("CONSENT_WITHDRAW", actor_id=customer_with_payments["id"])
    assert len(grants) == 2 and len(withdrawals) == 1
    # The actor's address is stored sealed; audit_entries reveals it.
    assert SUPERADMIN_EMAIL in {e.actor_email for e in audit_entries("CONSENT_NOTICE_PUBLISH")}
    assert csp_violations == []
