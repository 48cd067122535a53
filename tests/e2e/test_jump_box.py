"""The jump box in Chromium: Ctrl-K opens the dialog, a customer's e-mail finds the customer,
ArrowDown and Enter open the page; Esc gives the focus back; an institution admin does not
find a customer of another institution."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD
from tests.e2e.test_sign_in_flow import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo_customers(live_app) -> dict:
    """A demo customer of the first institution ("own") and one of another institution ("other")."""
    from sqlalchemy import select

    from app.extensions import db
    from app.platform.models import Customer, Institution

    with live_app.app_context():
        first, second = db.session.scalars(select(Institution.id).order_by(Institution.id).limit(2)).all()
        picked = {}
        for name, institution_id in (("own", first), ("other", second)):
            customer = db.session.scalars(select(Customer).where(Customer.institution_id == institution_id)
                                          .order_by(Customer.id).limit(1)).one()
            picked[name] = {"id": customer.id, "email": customer.email, "name": customer.full_name}
        return picked


def open_jump_box(page: Page):
    page.keyboard.press("Control+k")
    box = page.get_by_role("combobox", name="Reference, e-mail or name")
    expect(box).to_be_focused()
    return box


def test_ctrl_k_finds_a_customer_by_email_and_opens_it(page: Page, demo_customers, csp_violations):
    customer = demo_customers["other"]
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    page.goto("/transactions")
    opener = page.get_by_role("link", name=re.compile("Jump to"))
    expect(opener).to_contain_text("Ctrl K")

    box = open_jump_box(page)
    expect(page.get_by_role("dialog", name="Jump to…")).to_be_visible()
    box.press_sequentially(customer["email"], delay=10)
    option = page.get_by_role("listbox").get_by_role("option").first
    expect(option).to_contain_text(customer["name"])
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#jump-status")).to_contain_text("match")

    box.press("Escape")  # closes the dialog and gives the focus back
    expect(page.get_by_role("dialog", name="Jump to…")).to_be_hidden()

    opener.focus()
    page.keyboard.press("Enter")  # the navbar link opens the same dialog
    expect(box).to_be_focused()
    box.press("Escape")
    expect(opener).to_be_focused()

    box = open_jump_box(page)
    box.fill(customer["email"])
    expect(page.get_by_role("listbox").get_by_role("option").first).to_contain_text(customer["name"])
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", "jump-option-0")
    expect(page.get_by_role("listbox").get_by_role("option").first).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(page).to_have_url(re.compile(rf"/customers/{customer['id']}$"))
    expect(page.get_by_role("heading", name=customer["name"])).to_be_visible()
    assert csp_violations == []


def test_slash_opens_the_box_and_a_control_character_is_refused_politely(page: Page, csp_violations):
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    page.goto("/dashboard")
    page.keyboard.press("/")
    box = page.get_by_role("combobox", name="Reference, e-mail or name")
    expect(box).to_be_focused()
    box.fill("nothing-matches-this-e2e")
    expect(page.locator("#jump-status")).to_have_text("No matches")
    box.fill("bad\u0001")
    expect(page.locator("#jump-status")).to_contain_text("control character")
    assert csp_violations == []


def test_institution_admin_does_not_find_another_institutions_customer(page: Page, make_live_user, demo_customers,
                                                                      csp_violations):
    admin = make_live_user("institution_admin")  # of the first institution
    sign_in(page, admin["email"], admin["password"])
    page.goto("/customers")
    box = open_jump_box(page)
    box.fill(demo_customers["other"]["email"])
    expect(page.locator("#jump-status")).to_have_text("No matches")
    expect(page.get_by_role("listbox").get_by_role("option")).to_have_count(0)
    box.fill(demo_customers["own"]["email"])
    expect(page.get_by_role("listbox").get_by_role("option").first).to_contain_text(demo_customers["own"]["name"])
    assert csp_violations == []
