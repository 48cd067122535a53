"""Platform services in Chromium: an API token made (behind step-up), used, revoked; the rate
limits page; and browser errors reaching a (loopback) Sentry through the vendored SDK and the
portal's tunnel."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD
from tests.e2e.test_sign_in_flow import sign_in

pytestmark = pytest.mark.e2e


def api(base_url: str, path: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(base_url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, json.loads(refused.read())


def test_an_api_token_is_made_once_used_and_revoked(page: Page, live_server, csp_violations):
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="API").click()
    expect(page.get_by_role("heading", name="My API tokens")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("E2E SIEM export")
    page.get_by_label("Read", exact=True).check()
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()  # a new credential: step-up
    page.get_by_label("Password").fill(SUPERADMIN_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Name", exact=True).fill("E2E SIEM export")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="Token created")).to_be_visible()
    token = page.get_by_test_id("new-token").input_value()
    assert re.fullmatch(r"sat_[A-Za-z0-9_-]{40,}", token)

    status, body = api(live_server, "/api/v1/me", token)
    assert status == 200 and body["user"]["email"] == SUPERADMIN_EMAIL and body["token"]["scope"] == "read"
    status, body = api(live_server, "/api/v1/audit-logs?limit=5", token)
    assert status == 200 and len(body["data"]) == 5 and body["next_cursor"]

    page.get_by_role("link", name="Done").click()
    row = page.get_by_test_id("token-row").filter(has_text="E2E SIEM export")
    expect(row).to_contain_text(token[:12])
    assert token not in page.content()  # shown once, never again
    expect(row.get_by_test_id("token-last-used")).not_to_have_text("never")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=re.compile("Revoke")).click()
    expect(page.get_by_text(re.compile(r"Token sat_.{8}… revoked"))).to_be_visible()
    expect(row).to_contain_text("revoked")
    status, body = api(live_server, "/api/v1/me", token)
    assert status == 401 and body["error"]["code"] == "invalid_token"
    assert csp_violations == []


def test_the_rate_limits_page_lists_the_declared_limits(page: Page, csp_violations):
    sign_in(page, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD)
    page.goto("/rate-limits")
    expect(page.get_by_test_id("request-limits")).to_contain_text("Sign-in form submissions")
    expect(page.get_by_test_id("request-limits").locator("tr[data-limit='api-per-token']")).to_contain_text(
        "600 per 1 minute")
    expect(page.get_by_test_id("failure-throttles")).to_contain_text("second-factor-lock")
    assert csp_violations == []


def test_browser_errors_reach_sentry_with_the_route_not_the_secret_link(page: Page, sentry_live_server,
                                                                        csp_violations):
    url, envelopes = sentry_live_server
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    secret = "e2eResetTokenThatMustNotLeave0123456789"
    page.goto(f"{url}/reset-password/{secret}?utm=mail")
    expect(page.locator("script[src$='vendor/sentry/sentry.min.js']")).to_have_count(1)
    page.evaluate("setTimeout(() => { throw new Error('e2e browser failure'); }, 0)")
    events = envelopes.wait_for("event", timeout=20)
    event = events[0]
    assert event["exception"]["values"][0]["value"] == "e2e browser failure"
    assert event["environment"] == "e2e" and event["release"] == "saintara@e2e"
    assert event["request"]["url"] == f"{url}/reset-password/<token>"
    assert secret not in envelopes.raw().decode("utf-8", "replace")
    assert csp_violations == []  # nothing inline runs
    assert requested and all(address.startswith(url + "/") for address in requested), requested  # via the tunnel
