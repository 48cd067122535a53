"""A superadmin filters the audit log in Chromium and opens an entry's before/after diff."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD
from tests.e2e.test_sign_in_flow import sign_in

pytestmark = pytest.mark.e2e


def test_filter_the_log_and_open_an_entrys_diff(page: Page, csp_violations):
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log", exact=True)).to_be_visible()
    expect(page.get_by_test_id("audit-entries")).to_be_visible()

    page.get_by_label("Actions").select_option(["TRANSACTION_APPROVE"])
    page.get_by_label("Search").fill("TRX")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"[?&]action=TRANSACTION_APPROVE"))
    expect(page).to_have_url(re.compile(r"[?&]q=TRX"))
    rows = page.get_by_test_id("audit-entries").locator("tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.locator("td:nth-child(3)")).to_have_text(["TRANSACTION_APPROVE"] * 50)
    expect(page.get_by_test_id("audit-estimate")).to_contain_text("matching entries")

    older = page.get_by_role("link", name="Older →")
    first_page_entry = rows.first.get_attribute("data-entry-id")
    older.click()
    expect(rows.first).not_to_have_attribute("data-entry-id", first_page_entry)
    page.get_by_role("link", name="← Newer").click()
    expect(rows.first).to_have_attribute("data-entry-id", first_page_entry)

    entry_link = rows.first.get_by_role("link", name=f"Entry {first_page_entry}")
    entry_link.click()
    expect(page.get_by_role("heading", name=re.compile(f"Audit entry {first_page_entry}"))).to_be_visible()
    changes = page.get_by_test_id("audit-changes")
    status = changes.get_by_role("row").filter(has_text="status")
    expect(status.locator(".audit-before")).to_have_text("pending")
    expect(status.locator(".audit-after")).to_have_text("approved")
    expect(page.get_by_test_id("chain-status")).to_contain_text("Intact")

    page.get_by_role("link", name="History of this resource").click()
    expect(page.get_by_role("heading", name=re.compile(r"History of transaction #\d+"))).to_be_visible()
    expect(page.get_by_test_id("audit-entries").locator("tbody tr").first).to_be_visible()
    assert csp_violations == []
