"""Session replay in Chromium: a person who consented browses a customer's pages and types into a
filter; a replay (replay_event + replay_recording, compressed by the vendored worker) reaches the
loopback Sentry through the portal's tunnel with none of the page's text and none of what was typed.
Without consent, or with DNT, no replay script is even loaded and no replay arrives. Every request
the browser makes goes to the portal's own origin."""

from __future__ import annotations

import gzip
import json
import re
import uuid
import zlib

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_sign_in_flow import sign_in

pytestmark = pytest.mark.e2e
REPLAY_SCRIPT = "/static/vendor/sentry/sentry-replay.min.js"


@pytest.fixture
def replay_world(live_app, make_live_user, sentry_live_server):
    """Every session sampled, a published session_replay notice, and a customer with a name to look for."""
    from app.consent import notices
    from app.extensions import db
    from app.platform.models import Customer
    from app.security.actor import Actor
    from app.settings import services as settings
    from app.users.models import User

    def set_percent(percent: int) -> None:
        with live_app.app_context():
            state = next(s for s in settings.current_states() if s.setting.key == "replay_sample_percent")
            settings.update(Actor.system("e2e"), "replay_sample_percent", str(percent), expected_version=state.version)
            db.session.commit()

    stamp = uuid.uuid4().hex[:6]
    consenting = make_live_user("institution_admin", display_name=f"Replay Consenting {stamp}")
    refusing = make_live_user("institution_admin", display_name=f"Replay Refusing {stamp}")
    name = f"Zephyrina Quokkawati {stamp}"
    with live_app.app_context():
        if notices.latest_notice("session_replay") is None:
            notices.publish(Actor.system("e2e"), "session_replay", text_en="We record how you use pages, masked.",
                            text_id="Kami merekam cara Anda memakai halaman, disamarkan.", material=True)
        institution_id = db.session.get(User, consenting["id"]).institution_id
        customer = Customer(institution_id=institution_id, full_name=name, email=f"zq-{stamp}@e2e.saintara.id")
        db.session.add(customer)
        db.session.commit()
        customer_id = customer.id
    set_percent(100)
    yield {"consenting": consenting, "refusing": refusing, "customer": {"id": customer_id, "name": name}}
    set_percent(0)


def recording_json(segment: bytes) -> tuple[bytes, list]:
    """A replay_recording payload (``{"segment_id": n}`` line, then the events, gzip or zlib
    compressed or plain JSON): the compression's first bytes and the decoded events."""
    _header, _newline, body = segment.partition(b"\n")
    if body[:2] == b"\x1f\x8b":
        text = gzip.decompress(body)
    elif body[:1] == b"\x78":
        text = zlib.decompress(body)
    else:
        text = body
    return body[:2], json.loads(text)


def browse(page: Page, base: str, user: dict | None, customer: dict, typed: str) -> None:
    """Sign in as ``user`` (None: already signed in), read the customer's page, type into the list's filter."""
    if user is not None:
        sign_in(page, user["email"], user["password"])
    page.goto(f"{base}/customers/{customer['id']}")
    expect(page.get_by_text(customer["name"]).first).to_be_visible()  # the text is on the page
    page.goto(f"{base}/customers")
    search = page.locator("main input[name=q]").first
    search.click()
    search.press_sequentially(typed, delay=20)
    expect(search).to_have_value(typed)


def test_a_consenting_persons_replay_reaches_sentry_without_any_page_text(browser: Browser, sentry_live_server,
                                                                          replay_world):
    url, envelopes = sentry_live_server
    customer, typed = replay_world["customer"], f"Marzipanowski{uuid.uuid4().hex[:4]}"
    requested: list[str] = []
    csp_violations: list[str] = []

    def watched(**options) -> Page:
        """A page of a new browser context on the server with the loopback Sentry, its requests recorded."""
        new_page = browser.new_context(base_url=url, **options).new_page()
        own: list[str] = []
        new_page.on("request", lambda request: (requested.append(request.url), own.append(request.url)))
        new_page.own_requests = own
        new_page.on("console", lambda msg: csp_violations.append(msg.text)
                    if "Content Security Policy" in msg.text else None)
        return new_page

    # Without consent, and with consent but DNT: no replay script, no replay (checked after the consenting run).
    refusing_page = watched()
    browse(refusing_page, url, replay_world["refusing"], customer, typed)
    assert not any(address.endswith(REPLAY_SCRIPT) for address in refusing_page.own_requests)

    page = watched()
    sign_in(page, replay_world["consenting"]["email"], replay_world["consenting"]["password"])
    page.goto(f"{url}/account/consent")
    page.get_by_role("checkbox", name="Session replay").check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("checkbox", name="Session replay")).to_be_checked()

    dnt_page = watched(extra_http_headers={"DNT": "1"})
    browse(dnt_page, url, replay_world["consenting"], customer, typed)
    assert not any(address.endswith(REPLAY_SCRIPT) for address in dnt_page.own_requests)
    assert "data-replay-rate" not in dnt_page.content()

    browse(page, url, None, customer, typed)
    expect(page.locator(f"script[src$='{REPLAY_SCRIPT}']")).to_have_count(1)
    page.mouse.wheel(0, 400)
    page.get_by_role("heading").first.click()
    recordings = envelopes.wait_for("replay_recording", timeout=45)
    replay_events = envelopes.wait_for("replay_event", timeout=5)
    # The other two sessions have had as long to send anything; closing them would flush what they hold.
    for other in (dnt_page, refusing_page):
        other.context.close()
    page.wait_for_timeout(1000)
    replay_events = envelopes.wait_for("replay_event", timeout=5)

    # Only the consenting session was recorded: all replays name its one replay id.
    assert {event["replay_id"] for event in replay_events} == {replay_events[0]["replay_id"]}
    assert all(event.get("user", {}).get("id") in (None, str(replay_world["consenting"]["id"]))
               for event in replay_events)
    magic, events = recording_json(recordings[0])
    # Compressed (zlib) by the vendored worker: the CSP let it start from this site (the SDK's fallback sends JSON).
    assert magic[:1] == b"\x78"
    snapshots = [event for segment in recordings for event in recording_json(segment)[1] if event.get("type") == 2]
    assert snapshots, "no full DOM snapshot was recorded"
    decoded = json.dumps([recording_json(segment)[1] for segment in recordings])
    everything = envelopes.raw().decode("utf-8", "replace") + decoded
    for secret in (customer["name"], "Zephyrina", "Quokkawati", typed, "Marzipanowski",
                   replay_world["consenting"]["email"], replay_world["consenting"]["name"]):
        assert secret not in everything, secret
    assert re.search(r'"textContent": "\*{4,}', decoded), "texts are recorded, masked"
    assert all("?" not in address for event in replay_events for address in event.get("urls", []))
    origin = url + "/"
    assert requested and all(address.startswith(origin) for address in requested), sorted(
        {address for address in requested if not address.startswith(origin)})
    assert any(address.endswith("/sentry-tunnel") for address in requested)
    assert csp_violations == []
