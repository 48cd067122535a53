"""A superadmin signs in, sees the dashboard, switches language and signs out."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD

pytestmark = pytest.mark.e2e


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_superadmin_signs_in_sees_dashboard_switches_language_and_signs_out(page: Page, csp_violations):
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_test_id("stat-institutions")).to_have_text("20")
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("E2E Superadmin")
    # Recent activity is listed (the demo history, or what earlier tests on this server did).
    expect(page.get_by_role("table")).to_contain_text(re.compile(r"APPROVE|LOGIN_SUCCESS"))

    page.get_by_label("Language").select_option("id")  # the switcher submits itself (static/js/app.js)
    expect(page.get_by_role("heading", name="Dasbor")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.get_by_text("Transaksi tertunda")).to_be_visible()

    page.get_by_role("button", name="Keluar").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Masuk")).to_be_visible()  # the language outlives the session
    expect(page.get_by_text("Anda telah keluar.")).to_be_visible()
    page.goto("/dashboard")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    assert csp_violations == []


def test_wrong_password_shows_the_generic_message(page: Page):
    sign_in(page, SUPERADMIN_EMAIL, "definitely not the password")
    expect(page.get_by_role("alert")).to_have_text("The e-mail address or password is not correct.")
    expect(page.get_by_label("Password")).to_have_value("")
    sign_in(page, "nobody@e2e.saintara.id", "definitely not the password")
    expect(page.get_by_role("alert")).to_have_text("The e-mail address or password is not correct.")


def test_keyboard_only_sign_in_and_skip_link(page: Page):
    page.goto("/login")
    expect(page.get_by_label("E-mail", exact=True)).to_be_focused()  # the sign-in page starts in its first field
    page.keyboard.type(SUPERADMIN_EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(SUPERADMIN_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
