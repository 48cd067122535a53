"""Second factors in Chromium: authenticator-app enrolment and sign-in (codes from pyotp), a
replayed code, a backup code, and a passkey on Chromium's virtual authenticator (CDP)."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.test_sign_in_flow import sign_in

pytestmark = pytest.mark.e2e


def code_for_next_step(secret: str) -> str:
    """The code of the step after the current one: accepted (one step of drift), never used yet."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def wrong_code(secret: str) -> str:
    """A six-digit code that none of the accepted steps produces."""
    totp, now = pyotp.TOTP(secret), time.time()
    accepted = {totp.at(now + 30 * k) for k in (-1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in accepted)


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_enrol_an_authenticator_app_then_sign_in_with_codes_and_a_backup_code(page: Page, make_live_user,
                                                                              audit_entries, csp_violations):
    user = make_live_user("admin")
    sign_in(page, user["email"], user["password"])
    # The admin role requires two-factor: during the grace period sign-in leads to enrolment.
    expect(page).to_have_url(re.compile(r"/account/two-factor/required"))
    page.get_by_role("link", name="Set up an authenticator app").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Set up an authenticator app")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for your authenticator app").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code from your authenticator app").fill(wrong_code(secret))
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("This code is not correct.")).to_be_visible()
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Your backup codes")).to_be_visible()
    codes = page.get_by_test_id("backup-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have saved them").click()
    expect(page.get_by_test_id("backup-codes-left")).to_have_text("10 unused backup codes.")
    sign_out(page)

    # Sign-in now asks for a code after the password.
    sign_in(page, user["email"], user["password"])
    expect(page).to_have_url(re.compile(r"/login/two-factor$"))
    code = code_for_next_step(secret)
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    sign_out(page)

    # The same code again is refused, and the user is told why.
    sign_in(page, user["email"], user["password"])
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("This code has already been used")
    expect(page).to_have_url(re.compile(r"/login/two-factor$"))

    # A backup code signs in instead, once, and suggests making new ones.
    page.get_by_text("Use a backup code instead").click()
    page.get_by_label("Backup code").fill(codes[0])
    page.get_by_role("button", name="Sign in with a backup code").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_text("You signed in with a backup code; 9 codes are left.")).to_be_visible()
    assert csp_violations == []

    [replay] = audit_entries("TWO_FACTOR_REPLAY", actor_id=user["id"])
    assert replay.result == "failure"
    assert audit_entries("BACKUP_CODE_USE", actor_id=user["id"])
    assert [e.description for e in audit_entries("LOGIN_SUCCESS", actor_id=user["id"])][-2:] == [
        "Signed in with password and authenticator app", "Signed in with password and a backup code"]


@pytest.fixture
def virtual_authenticator(context: BrowserContext, page: Page):
    """Chromium's virtual WebAuthn authenticator (DevTools WebAuthn domain through a CDP session)."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    yield cdp, added["authenticatorId"]
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": added["authenticatorId"]})


def test_register_a_passkey_and_sign_in_with_it(page: Page, live_server, make_live_user, virtual_authenticator,
                                                audit_entries, csp_violations):
    cdp, authenticator_id = virtual_authenticator
    # WebAuthn needs a domain name (an IP address is no relying party): use localhost.
    site = f"http://localhost:{urlsplit(live_server).port}"
    user = make_live_user("admin")
    page.goto(site + "/login")
    page.get_by_label("E-mail", exact=True).fill(user["email"])
    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/account/two-factor/required"))
    page.get_by_role("link", name="Add a passkey").click()
    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Add a passkey")).to_be_visible()
    page.get_by_label("Name of the passkey").fill("Virtual key")
    page.get_by_role("button", name="Create the passkey").click()
    expect(page.get_by_role("heading", name="Your backup codes")).to_be_visible()  # first factor: codes come too
    expect(page.get_by_text("The passkey Virtual key was registered.")).to_be_visible()
    page.get_by_role("link", name="I have saved them").click()
    expect(page.get_by_test_id("passkey-list")).to_contain_text("Virtual key")
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert len(credentials) == 1 and credentials[0]["rpId"] == "localhost"

    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("E-mail", exact=True).fill(user["email"])
    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/login/two-factor$"))
    page.get_by_role("button", name="Use a passkey").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    signed = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"][0]
    assert signed["signCount"] >= 1
    assert csp_violations == []
    assert audit_entries("PASSKEY_REGISTER", actor_id=user["id"])
    assert audit_entries("LOGIN_SUCCESS", actor_id=user["id"])[-1].description == \
        "Signed in with password and a passkey"
