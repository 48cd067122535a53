"""User administration in Chromium: an invitation followed from the mail (aiosmtpd), a session
ended from another browser, and support impersonation (banner, read-only refusal, stop, audit)."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import link_in
from tests.e2e.conftest import SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD
from tests.e2e.test_sign_in_flow import sign_in

pytestmark = pytest.mark.e2e


def confirm_dialogs(page: Page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def test_invited_user_sets_a_password_from_the_mail(page: Page, browser: Browser, live_server, smtp_server,
                                                    csp_violations):
    email = f"invited-{uuid.uuid4().hex[:8]}@e2e.saintara.id"
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    page.get_by_role("link", name="Users").click()
    page.get_by_role("link", name="Invite a user").click()
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Name", exact=True).fill("Invited Person")
    page.get_by_label("Role").select_option("institution_admin")
    page.get_by_label("Institution").select_option(index=1)
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text(f"{email} was invited.")).to_be_visible()
    expect(page.get_by_test_id("user-profile")).to_contain_text("no password yet")

    message = smtp_server.wait_for(email, subject="Your invitation to Saintara Admin")
    assert "E2E Superadmin has invited you" in message.get_content()
    link = link_in(message, "/invitation/")

    invited = browser.new_context(base_url=live_server)
    newcomer = invited.new_page()
    newcomer.goto(link)
    expect(newcomer.get_by_role("heading", name="Welcome to Saintara Admin")).to_be_visible()
    newcomer.get_by_label("New password", exact=True).fill("my own long passphrase")
    newcomer.get_by_label("Repeat the new password").fill("my own long passphrase")
    newcomer.get_by_role("button", name="Set password").click()
    expect(newcomer.get_by_text("Your password is set. Sign in to start.")).to_be_visible()
    newcomer.goto(link)
    expect(newcomer.get_by_role("heading", name="This link no longer works")).to_be_visible()
    sign_in(newcomer, email, "my own long passphrase")
    expect(newcomer).to_have_url(re.compile(r"/dashboard$"))
    invited.close()
    assert csp_violations == []


def test_ending_a_session_signs_the_other_browser_out(page: Page, browser: Browser, live_server, make_live_user):
    user = make_live_user("customer")
    other_context = browser.new_context(base_url=live_server, user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64; "
                                        "rv:140.0) Gecko/20100101 Firefox/140.0")
    other = other_context.new_page()
    sign_in(other, user["email"], user["password"])
    expect(other).to_have_url(re.compile(r"/account$"))

    sign_in(page, user["email"], user["password"])
    page.get_by_role("link", name="Where you are signed in").click()
    table = page.get_by_test_id("sessions-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    confirm_dialogs(page)
    table.get_by_role("row").filter(has_text="Firefox 140 / Windows").get_by_role("button", name="End session").click()
    expect(page.get_by_text("The session was ended; that browser is signed out.")).to_be_visible()
    expect(page.get_by_test_id("sessions-table").locator("tbody tr")).to_have_count(1)

    other.reload()
    expect(other).to_have_url(re.compile(r"/login\?next="))
    other_context.close()


def test_support_impersonates_a_customer_read_only_and_stops(page: Page, browser: Browser, live_server,
                                                            make_live_user, audit_entries, csp_violations):
    customer = make_live_user("customer", display_name="Ani Customer")
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    page.goto(f"/users/{customer['id']}")
    page.get_by_role("link", name="Impersonate").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()  # step-up first
    page.get_by_label("Password").fill(SUPERADMIN_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Reason").fill("Ticket 4711: customer cannot find the account page")
    page.get_by_role("button", name="Start impersonating").click()

    banner = page.get_by_test_id("impersonation-banner")
    expect(banner).to_contain_text(f"{SUPERADMIN_EMAIL} is impersonating {customer['email']}.")
    expect(banner).to_contain_text("Read-only")
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("Ani Customer")

    # Any change is refused with a clear message.
    page.get_by_role("link", name="Change password").click()
    page.get_by_label("Current password").fill("whatever it may be")
    page.get_by_label("New password", exact=True).fill("an attempted new passphrase")
    page.get_by_label("Repeat the new password").fill("an attempted new passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("read-only mode: changes are not allowed")).to_be_visible()
    expect(banner).to_be_visible()

    banner.get_by_role("button", name="Stop impersonating").click()
    expect(page.get_by_text("The impersonation has ended. You are yourself again.")).to_be_visible()
    expect(page.get_by_test_id("impersonation-banner")).to_have_count(0)
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("E2E Superadmin")
    history = page.get_by_test_id("user-audit")
    expect(history).to_contain_text("IMPERSONATION_START")
    expect(history).to_contain_text("IMPERSONATION_END")
    assert csp_violations == []

    [started] = audit_entries("IMPERSONATION_START", resource_id=str(customer["id"]))
    assert started.actor_email == SUPERADMIN_EMAIL and "Ticket 4711" in started.description
    [refused] = audit_entries("IMPERSONATION_REFUSED", actor_id=customer["id"])
    assert refused.impersonator_email == SUPERADMIN_EMAIL and refused.resource_repr == "POST /account/password"
    [ended] = audit_entries("IMPERSONATION_END", resource_id=str(customer["id"]))
    assert ended.actor_email == SUPERADMIN_EMAIL

    # The customer sees on their account page that support was there, when and why.
    own_context = browser.new_context(base_url=live_server)
    own = own_context.new_page()
    sign_in(own, customer["email"], customer["password"])
    visits = own.get_by_test_id("support-visits")
    expect(visits).to_contain_text("Ticket 4711")
    expect(visits).to_contain_text("read-only")
    own_context.close()
