"""Usage analytics in Chromium, end to end: an account without consent to analytics works in the
portal and no event of it is stored; an account that agrees on its consent page sends an invitation,
and once `flask analytics ingest` and `flask analytics rollup` ran the superadmin's funnel page
counts it. Every request any page makes, in every browser context, goes to the portal's own origin."""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD, flask_cli
from tests.e2e.test_sign_in_flow import sign_in

pytestmark = pytest.mark.e2e
STEPS = ("invitation_sent", "invitation_accepted", "two_factor_enrolled", "first_action")


@pytest.fixture
def analytics_notice(live_app) -> None:
    """The analytics notice is published (people can agree to it on their consent page)."""
    from app.consent import notices
    from app.extensions import db
    from app.security.actor import Actor

    with live_app.app_context():
        if notices.latest_notice("analytics") is None:
            notices.publish(Actor.system("e2e"), "analytics", text_en="We count how the portal is used.",
                            text_id="Kami menghitung cara portal digunakan.", material=True)
            db.session.commit()


@pytest.fixture
def requests_seen():
    """Every request of every page of the contexts passed to ``watch`` (page.on("request"))."""
    seen: list[str] = []

    def watch(context) -> None:
        context.on("request", lambda request: seen.append(request.url))

    return seen, watch


def stored_events(live_app) -> dict[tuple[str, str], int]:
    """Events stored so far, per (name, role)."""
    from sqlalchemy import func, select

    from app.analytics.models import AnalyticsEvent
    from app.extensions import db

    with live_app.app_context():
        rows = db.session.execute(select(AnalyticsEvent.name, AnalyticsEvent.role, func.count())
                                  .group_by(AnalyticsEvent.name, AnalyticsEvent.role)).all()
        db.session.remove()
    return {(name, role): count for name, role, count in rows}


def ingest_until(live_env, live_app, arrived, tries: int = 50) -> dict:
    """Run the ingester until ``arrived(events)`` holds (the flushers write every 200 ms)."""
    for _ in range(tries):
        flask_cli(live_env, "analytics", "ingest", "--once")
        events = stored_events(live_app)
        if arrived(events):
            return events
        time.sleep(0.2)
    raise AssertionError(f"the expected events never arrived: {stored_events(live_app)}")


def funnel_counts(page: Page) -> dict[str, int]:
    page.goto("/analytics/funnel?range=7")
    expect(page.get_by_test_id("funnel-caveat")).to_contain_text("among consenting accounts")
    return {step: int(re.sub(r"\D", "", page.get_by_test_id(f"funnel-count-{step}").inner_text()))
            for step in STEPS}


def invite_someone(page: Page) -> None:
    email = f"analytics-{uuid.uuid4().hex[:8]}@e2e.saintara.id"
    page.get_by_role("link", name="Users").click()
    page.get_by_role("link", name="Invite a user").click()
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Name", exact=True).fill("Analytics Invitee")
    page.get_by_label("Role").select_option("institution_admin")
    page.get_by_label("Institution").select_option(index=1)
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text(f"{email} was invited.")).to_be_visible()


def test_consent_decides_what_is_recorded_and_the_funnel_counts_it(page: Page, browser: Browser, live_server,
                                                                   live_env, live_app, make_live_user,
                                                                   analytics_notice, requests_seen, csp_violations):
    seen, watch = requests_seen
    watch(page.context)
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)  # no consent of its own: never recorded
    page.get_by_role("button", name="Operations").click()
    page.get_by_role("link", name="Usage analytics").click()
    expect(page.get_by_role("heading", name=re.compile("Usage analytics"))).to_be_visible()
    flask_cli(live_env, "analytics", "ingest", "--once")
    flask_cli(live_env, "analytics", "rollup")
    before = funnel_counts(page)
    stored_before = stored_events(live_app)

    # Consent off: an institution admin who never agreed works in the portal.
    quiet = make_live_user("institution_admin")
    quiet_context = browser.new_context(base_url=live_server)
    watch(quiet_context)
    quiet_page = quiet_context.new_page()
    sign_in(quiet_page, quiet["email"], quiet["password"])
    quiet_page.goto("/account/consent")
    expect(quiet_page.locator("#give_analytics")).not_to_be_checked()
    for path in ("/dashboard", "/customers", "/transactions", "/users"):
        quiet_page.goto(path)
    quiet_context.close()

    # Consent on: an admin agrees on their consent page, looks around and sends an invitation.
    keen = make_live_user("admin")
    keen_context = browser.new_context(base_url=live_server)
    watch(keen_context)
    keen_page = keen_context.new_page()
    sign_in(keen_page, keen["email"], keen["password"])
    keen_page.goto("/account/consent")
    keen_page.locator("#give_analytics").check()
    keen_page.get_by_role("button", name="Save my choices").click()
    expect(keen_page.locator("#give_analytics")).to_be_checked()
    for path in ("/dashboard", "/customers"):
        keen_page.goto(path)
    invite_someone(keen_page)
    keen_context.close()

    def grown(events, name, role) -> bool:
        return events.get((name, role), 0) > stored_before.get((name, role), 0)

    stored = ingest_until(live_env, live_app, lambda events: grown(events, "invitation_sent", "admin")
                          and grown(events, "first_action", "admin") and grown(events, "page_view", "admin"))
    # The admin's page views arrived, and the institution admin (who worked before them) left nothing.
    assert {key: n for key, n in stored.items() if key[1] == "institution_admin"} == {
        key: n for key, n in stored_before.items() if key[1] == "institution_admin"}
    assert not any(role == "superadmin" for _name, role in stored)

    flask_cli(live_env, "analytics", "rollup")
    after = funnel_counts(page)
    assert after["invitation_sent"] == before["invitation_sent"] + 1
    assert after["first_action"] == before["first_action"] + 1
    assert after["invitation_accepted"] == before["invitation_accepted"]

    origin = urlsplit(live_server)
    foreign = [url for url in seen if urlsplit(url)[:2] != origin[:2]]
    assert seen and foreign == []  # no request ever left for another origin
    assert csp_violations == []
