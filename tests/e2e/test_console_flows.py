"""The operations console in Chromium: a bulk import (a bad line first, then the fixed file),
a transaction approved, and a settings change behind step-up."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD
from tests.e2e.test_sign_in_flow import sign_in

pytestmark = pytest.mark.e2e

HEADER = "full_name,email,phone,institution_code\n"
GOOD = ("Dewi Lestari,imported.dewi@contoh.co.id,+62 812 1111 2222,INST001\n"
        "Budi Santoso,imported.budi@contoh.co.id,,INST002\n"
        "Citra Ayu,imported.citra@contoh.co.id,,INST001\n")


def upload(page: Page, name: str, content: str) -> None:
    page.goto("/customers/import")
    page.get_by_label("Customer file (.csv or .xlsx)").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": content.encode()}])
    page.get_by_role("button", name="Upload and preview").click()


def test_bulk_import_shows_the_bad_line_then_imports_the_fixed_file(page: Page, csp_violations):
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    page.get_by_role("button", name="Operations").click()
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Customers").click()
    page.get_by_role("link", name="Import customers").first.click()
    expect(page.get_by_role("heading", name="Import customers")).to_be_visible()

    bad = GOOD.replace("imported.budi@contoh.co.id", "budi-at-contoh.co.id")
    upload(page, "customers-with-error.csv", HEADER + bad)
    errors = page.get_by_test_id("import-errors")
    expect(errors).to_contain_text("This is not a valid e-mail address.")
    expect(errors.locator("tbody tr")).to_have_count(1)
    expect(errors.locator("tbody tr").first.locator("td").first).to_have_text("3")
    expect(page.get_by_role("button", name=re.compile("^Import"))).to_have_count(0)
    page.goto("/customers?q=imported.")
    expect(page.get_by_test_id("empty-state")).to_contain_text("Nothing matches these filters.")

    upload(page, "customers-fixed.csv", HEADER + GOOD)
    expect(page.get_by_test_id("import-summary")).to_contain_text("3 customers are ready to import.")
    page.get_by_role("button", name="Import 3 customers").click()
    expect(page.get_by_text("Imported 3 customers from customers-fixed.csv.")).to_be_visible()
    page.goto("/customers?q=imported.")
    expect(page.get_by_test_id("customer-table").locator("tbody tr")).to_have_count(3)
    assert csp_violations == []


def test_a_pending_transaction_is_approved(page: Page, csp_violations):
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    page.goto("/transactions")
    page.get_by_label("Status").select_option("pending")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"status=pending"))
    first = page.get_by_test_id("transaction-table").locator("tbody tr").first.get_by_role("link")
    reference = first.inner_text()
    first.click()
    expect(page.get_by_test_id("status")).to_have_text("Pending")
    expect(page.get_by_test_id("amount")).to_contain_text("IDR")
    page.get_by_label("Reason").fill("Checked against the invoice")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text(f"{reference} approved.")).to_be_visible()
    expect(page.get_by_test_id("status")).to_have_text("Approved")
    expect(page.get_by_test_id("decision")).to_contain_text("E2E Superadmin")
    expect(page.get_by_test_id("change-history")).to_contain_text("TRANSACTION_APPROVE")
    assert csp_violations == []


def test_a_settings_change_needs_step_up_and_shows_the_banner(page: Page, csp_violations):
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    page.goto("/settings")
    page.get_by_role("link", name="Edit Maintenance banner").click()
    expect(page).to_have_url(re.compile(r"/step-up\?next="))
    page.get_by_label("Password").fill(SUPERADMIN_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Maintenance banner")).to_be_visible()
    page.get_by_label("Maintenance banner").fill("Planned upgrade tonight at 22:00 WIB")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Maintenance banner saved.")).to_be_visible()
    expect(page.get_by_test_id("maintenance-banner")).to_contain_text("Planned upgrade tonight at 22:00 WIB")
    for _ in range(3):  # every page, whichever worker answers
        page.goto("/dashboard")
        expect(page.get_by_test_id("maintenance-banner")).to_contain_text("Planned upgrade tonight")
    page.goto("/settings/history")
    expect(page.get_by_test_id("change-history")).to_contain_text("maintenance_banner")
    expect(page.get_by_test_id("change-history")).to_contain_text(SUPERADMIN_EMAIL)

    page.goto("/settings/maintenance_banner")
    page.get_by_label("Maintenance banner").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("maintenance-banner")).to_have_count(0)
    assert csp_violations == []
