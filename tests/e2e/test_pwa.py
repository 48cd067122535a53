"""The installable portal in Chromium: installability, offline navigation, nothing personal
in the caches after sign-out, and the service worker's push handler (docs/PWA.md)."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import SUPERADMIN_EMAIL
from tests.e2e.test_backups_flow import sign_in  # the superadmin, landing on the dashboard

pytestmark = pytest.mark.e2e

# Every request URL in every cache of the origin, and the text of the HTML ones.
CACHE_CONTENTS = """async () => {
  const found = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      const type = response.headers.get("Content-Type") || "";
      found.push({cache: name, url: new URL(request.url).pathname + new URL(request.url).search,
                  html: type.startsWith("text/html") ? await response.text() : ""});
    }
  }
  return found;
}"""


def worker_ready(page: Page) -> None:
    """Wait until the service worker controls the page (a reload after its first install)."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    if not page.evaluate("Boolean(navigator.serviceWorker.controller)"):
        page.reload()
    page.wait_for_function("Boolean(navigator.serviceWorker.controller)")


def precached_urls(page: Page) -> set[str]:
    source = page.request.get("/sw.js").text()
    lists = {}
    for name in ("STATIC_URLS", "OFFLINE_URLS"):
        line = next(line for line in source.splitlines() if line.startswith(f"const {name} = "))
        lists[name] = json.loads(line.split(" = ", 1)[1].rstrip(";"))
    return set(lists["STATIC_URLS"]) | set(lists["OFFLINE_URLS"].values())


@pytest.fixture
def profile_page(browser_type, browser_type_launch_args, base_url, tmp_path):
    """A page of a Chromium with a profile on disk: installing needs a profile that is not
    "incognito", which every context of a launched browser is."""
    context = browser_type.launch_persistent_context(str(tmp_path / "profile"), **browser_type_launch_args,
                                                     base_url=base_url)
    yield context.pages[0] if context.pages else context.new_page()
    context.close()


def test_chromium_reports_no_installability_errors(profile_page: Page):
    page = profile_page
    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto("/login")
    worker_ready(page)
    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [], manifest["errors"]
    assert manifest["url"].endswith("/manifest.webmanifest")
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    assert violations == []


def test_offline_navigation_shows_the_offline_page_never_an_old_page(page: Page, context: BrowserContext,
                                                                      csp_violations):
    sign_in(page)
    worker_ready(page)
    page.goto("/users")
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    context.set_offline(True)
    try:
        page.goto("/users")
        expect(page.get_by_test_id("offline-page")).to_be_visible()
        expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
        assert SUPERADMIN_EMAIL not in page.content()
        page.goto("/dashboard")  # a page seen before: still the offline page, never a stored copy
        expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
        # The static files come from the cache: the offline page is styled.
        assert page.evaluate("getComputedStyle(document.querySelector('.btn-primary')).display") != "inline"
    finally:
        context.set_offline(False)
    assert csp_violations == []


def test_offline_page_follows_the_portal_language(page: Page, context: BrowserContext):
    sign_in(page)
    worker_ready(page)
    page.locator("#language-select").select_option("id")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    worker_ready(page)
    context.set_offline(True)
    try:
        page.goto("/users")
        expect(page.locator("html")).to_have_attribute("lang", "id")
        expect(page.get_by_role("heading", name="Anda sedang luring")).to_be_visible()
    finally:
        context.set_offline(False)
    page.goto("/dashboard")
    page.locator("#language-select").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_after_sign_out_the_caches_hold_no_page_with_personal_data(page: Page):
    sign_in(page)
    worker_ready(page)
    for path in ("/users", "/account", "/audit", "/dashboard"):
        page.goto(path)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    contents = page.evaluate(CACHE_CONTENTS)
    allowed = precached_urls(page)
    assert contents, "the worker precached nothing"
    assert {entry["url"] for entry in contents} <= allowed
    assert len({entry["cache"] for entry in contents}) == 1  # old versions are gone
    html = [entry for entry in contents if entry["html"]]
    assert {entry["url"] for entry in html} == {"/offline/en", "/offline/id"}
    for entry in html:
        assert SUPERADMIN_EMAIL not in entry["html"] and "E2E Superadmin" not in entry["html"]


def test_push_message_shows_a_notification(page: Page, context: BrowserContext, base_url: str):
    context.grant_permissions(["notifications"], origin=base_url)
    page.goto("/login")
    worker_ready(page)
    cdp = context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    page.wait_for_function("navigator.serviceWorker.ready.then(() => true)")
    while not registrations:  # the event arrives with (or soon after) the answer to enable
        cdp.send("Runtime.evaluate", {"expression": "1"})
    registration = next(r for r in registrations if r["scopeURL"] == base_url + "/")
    worker = next(w for w in context.service_workers if w.url.startswith(base_url + "/"))
    worker.evaluate("""() => {
        self.shownForTest = [];
        const show = self.registration.showNotification.bind(self.registration);
        self.registration.showNotification = (title, options) => show(title, options).then(
            () => { self.shownForTest.push({title, body: options.body, tag: options.tag, data: options.data,
                                            outcome: "shown"}); },
            (error) => { self.shownForTest.push({title, outcome: String(error)}); });
    }""")
    message = {"title": "Approval waiting", "body": "An approval request has been waiting for 4 hours.",
               "url": "/approvals/1", "tag": "approval-1"}
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": base_url, "registrationId": registration["registrationId"],
                                                  "data": json.dumps(message)})
    # What the handler asks the browser to show is read in the worker itself, and the browser's
    # answer with it: headless Chromium's notification list (getNotifications) came back empty
    # now and then in a fresh-clone run although the handler had shown the notification.
    shown = worker.evaluate("""async () => {
        for (let attempt = 0; attempt < 200 && !self.shownForTest.length; attempt++) {
            await new Promise(resolve => setTimeout(resolve, 50));
        }
        return self.shownForTest;
    }""")
    assert shown == [{"title": message["title"], "body": message["body"], "tag": "approval-1",
                      "data": {"url": "/approvals/1"}, "outcome": "shown"}]
