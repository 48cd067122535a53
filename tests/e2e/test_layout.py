"""Every list page fits the screen: one navigation row at 1366 px, and at 390 px no
page-level horizontal scroll with the key columns of each row in view (stacked rows)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_backups_flow import sign_in  # the superadmin, landing on the dashboard

pytestmark = pytest.mark.e2e

# path -> the cells of the first row that must be in view on a phone (CSS selectors inside the row).
LIST_PAGES = {
    "/institutions": [".stack-title", "td[data-label='Status']"],
    "/customers": [".stack-title", "td[data-label='Institution']", "td[data-label='Status']"],
    "/transactions": [".stack-title", "td[data-label='Amount']", "td[data-label='Status']"],
    "/approvals?status=": [".stack-title", "td[data-label='Summary']", "td[data-label='Status']"],
    "/users": [".stack-title", "td[data-label='Role']", "td[data-label='Status']"],
    "/audit": ["td[data-label='When']", "td[data-label='Actor']", "td[data-label='Action']"],
    "/backups/": [".stack-title", "td[data-label='Status']"],
    "/settings/history": ["td[data-label='When']", "td[data-label='Changes']"],
    "/account/api-tokens": [".stack-title", "td[data-label='Status']"],
    "/account/sessions": [".stack-title", "td[data-label='Last seen']"],
}


def in_view(page: Page, locator) -> bool:
    box = locator.bounding_box()
    width = page.evaluate("window.innerWidth")
    return box is not None and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5


@pytest.mark.parametrize("path", list(LIST_PAGES))
def test_list_page_at_1366_has_a_one_row_navbar(page: Page, path: str):
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page)
    page.goto(path)
    tops = page.eval_on_selector_all(
        "#main-nav .nav-item, #main-nav form, #main-nav .navbar-account",
        "items => items.map(i => Math.round(i.getBoundingClientRect().top + i.getBoundingClientRect().height / 2))")
    assert tops and max(tops) - min(tops) <= 4, tops  # every item on one line
    assert page.locator("nav.navbar").bounding_box()["height"] <= 64
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("path", list(LIST_PAGES))
def test_list_page_at_390_does_not_scroll_sideways_and_shows_key_columns(page: Page, path: str):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page)
    page.goto(path)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    rows = page.locator("table.table-stack tbody tr")
    if rows.count():
        first = rows.first
        for selector in LIST_PAGES[path]:
            cell = first.locator(selector).first
            expect(cell).to_be_visible()
            assert in_view(page, cell), (path, selector)
    toggle = page.get_by_test_id("filter-toggle")
    if toggle.count():  # the filters fold away on a phone and open on demand
        panel = page.locator(toggle.get_attribute("data-bs-target"))
        expect(panel).to_be_hidden()
        toggle.click()
        expect(panel).to_be_visible()


@pytest.mark.parametrize("width", [1200, 1366])
def test_navbar_stays_on_one_row_in_indonesian_from_1200_px(page: Page, width: int):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page)
    page.get_by_label("Language").select_option("id")  # submits itself
    expect(page.locator("html")).to_have_attribute("lang", "id")
    page.goto("/transactions")
    assert page.locator("nav.navbar").bounding_box()["height"] <= 64
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    expect(page.get_by_role("button", name="Keluar")).to_be_visible()
