"""Push notifications end to end: a person turns them on for this device on the account page
(keyboard only), a new sign-in and a test notification reach the device through the RQ worker,
encrypted; the person removes the device after confirming.

Chromium here has no push service (no network, no vendor keys), so the page's
``pushManager.subscribe`` is replaced by one that returns a subscription of a loopback push
receiver (tests/push_receiver.py) holding the device's keys; the page script, the portal,
the job, the encryption and the VAPID signature are the real ones.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from app.vapid import b64url_decode
from tests.e2e.conftest import E2E_VAPID_PUBLIC_KEY
from tests.e2e.test_backups_flow import jobs_worker
from tests.e2e.test_sign_in_flow import sign_in
from tests.push_receiver import Device, PushReceiver

pytestmark = pytest.mark.e2e

FAKE_PUSH_SERVICE = """
(() => {
  const device = %s;
  let current = null;
  const make = () => ({
    endpoint: device.endpoint,
    toJSON: () => ({ endpoint: device.endpoint, keys: { p256dh: device.p256dh, auth: device.auth } }),
    unsubscribe: async () => { current = null; return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    sessionStorage.setItem("pushKey", btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey))));
    current = make();
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current || (device.subscribed ? make() : null); };
})();
"""


def wait_for(receiver: PushReceiver, device: Device, title: str, timeout: float = 90) -> tuple[dict, bytes]:
    """The first push titled ``title`` (the worker runs the job), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        for received in list(receiver.received):
            message = device.decrypt(received.body)
            if message["title"] == title:
                return message, received.body
        assert time.monotonic() < deadline, f"no push titled {title!r} arrived: {len(receiver.received)} others"
        time.sleep(0.2)


def test_a_device_receives_notifications_and_is_removed(browser: Browser, base_url: str, live_env: dict,
                                                        make_live_user, audit_entries):
    person = make_live_user("admin")
    device = Device()
    with PushReceiver() as receiver, jobs_worker(live_env):
        endpoint = receiver.endpoint("this-device")
        fake = {"endpoint": endpoint, "p256dh": device.p256dh, "auth": device.auth_b64, "subscribed": False}
        context = browser.new_context(base_url=base_url)
        context.grant_permissions(["notifications"], origin=base_url)
        context.add_init_script(FAKE_PUSH_SERVICE % json.dumps(fake))
        page: Page = context.new_page()
        sign_in(page, person["email"], person["password"])
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto("/account")
        status = page.locator("[data-push-status]")
        expect(status).to_have_text("Notifications are off for this device.")
        turn_on = page.get_by_role("button", name="Turn on notifications for this device")
        turn_on.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("push-devices")).to_contain_text("Chrome · Linux")
        # The page subscribed with the server's VAPID public key.
        assert page.evaluate("sessionStorage.getItem('pushKey')") == base64.b64encode(
            b64url_decode(E2E_VAPID_PUBLIC_KEY)).decode()
        context.add_init_script(FAKE_PUSH_SERVICE % json.dumps({**fake, "subscribed": True}))
        page.reload()
        expect(status).to_have_text("Notifications are on for this device.")
        expect(page.locator("[data-this-device]")).to_be_visible()

        # A sign-in elsewhere is announced on this device.
        other = browser.new_context(base_url=base_url)
        elsewhere = other.new_page()
        sign_in(elsewhere, person["email"], person["password"])
        elsewhere.wait_for_url(lambda url: "/login" not in url)
        other.close()
        message, body = wait_for(receiver, device, "New sign-in to your account")
        assert message == {
            "title": "New sign-in to your account", "url": "/account/sessions", "tag": "sign-in",
            "body": "Someone just signed in to your account. Not you? End your sessions and change your password."}
        assert person["email"].encode() not in body

        page.get_by_role("button", name="Send a test notification").click()
        expect(page.get_by_text("A test notification is on its way to your devices.")).to_be_visible()
        message, _body = wait_for(receiver, device, "Test notification")
        assert message["url"] == "/account"
        # Only the sign-in after the device subscribed was announced (not the one before it).
        titles = [device.decrypt(received.body)["title"] for received in receiver.received]
        assert sorted(titles) == ["New sign-in to your account", "Test notification"]

        page.once("dialog", lambda dialog: dialog.accept() if dialog.message == "Stop notifications to this device?"
                  else dialog.dismiss())
        page.get_by_role("button", name="Remove Chrome · Linux").click()
        expect(page.get_by_text("Notifications to Chrome · Linux were turned off.")).to_be_visible()
        expect(page.get_by_test_id("push-devices")).to_have_count(0)
        context.close()
    actions = [entry.description for entry in audit_entries("PUSH_SUBSCRIBE") + audit_entries("PUSH_UNSUBSCRIBE")
               if entry.actor_id == person["id"]]
    assert actions == ["Push notifications turned on for a device", "Push notifications removed for a device"]
