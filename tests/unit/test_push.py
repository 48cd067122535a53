"""Web Push: subscriptions per device (audited, encrypted at rest), the notification triggers,
and encrypted delivery to a loopback push service that decrypts what arrives."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from sqlalchemy import select, text

from app import events, vapid
from app.audit.models import AuditLog
from app.config import ConfigError, load_config
from app.database import utcnow
from app.jobs import services as jobs
from app.push import jobs as push_jobs
from app.push import services as push
from app.push import triggers
from app.push.models import PushNotice, PushSubscription
from app.security.actor import Actor
from app.users.models import Role
from tests.conftest import csrf_token_from
from tests.push_receiver import Device, PushReceiver

PRIVATE_KEY, PUBLIC_KEY = vapid.new_key_pair()
SUBJECT = "mailto:security@saintara.example"


@pytest.fixture
def push_on(app, monkeypatch):
    """This app with VAPID keys, and loopback http endpoints allowed (the receiver is plain HTTP)."""
    for key, value in {"VAPID_PRIVATE_KEY": PRIVATE_KEY, "VAPID_PUBLIC_KEY": PUBLIC_KEY, "VAPID_SUBJECT": SUBJECT,
                       "PUSH_ALLOW_HTTP_ENDPOINTS": True,
                       "PUSH_SERVICE_HOSTS": ("push.example.net", "127.0.0.1")}.items():
        monkeypatch.setitem(app.config, key, value)


class Ctx:
    def progress(self, stage, percent):
        pass


def subscribe(user, endpoint, device=None, locale="en"):
    device = device or Device()
    return push.subscribe(Actor.for_user(user), user, endpoint=endpoint, p256dh=device.p256dh, auth=device.auth_b64,
                          device="Chrome · Linux", locale=locale), device


def audit_actions(db, prefix="PUSH_"):
    return [row.action for row in db.session.scalars(select(AuditLog).where(AuditLog.action.like(prefix + "%"))
                                                     .order_by(AuditLog.id))]


# --- configuration --------------------------------------------------------------------------------

def test_vapid_public_key_is_derived_from_the_private_key(tmp_path):
    config = load_config({"VAPID_PRIVATE_KEY": PRIVATE_KEY, "VAPID_SUBJECT": SUBJECT}, tmp_path)
    assert config["VAPID_PUBLIC_KEY"] == PUBLIC_KEY
    assert len(vapid.b64url_decode(PUBLIC_KEY)) == 65 and vapid.b64url_decode(PUBLIC_KEY)[0] == 4
    assert load_config({}, tmp_path)["VAPID_PRIVATE_KEY"] is None  # the embedded default: push is off


@pytest.mark.parametrize("env, named", [
    ({"VAPID_PRIVATE_KEY": "not-a-key", "VAPID_SUBJECT": SUBJECT}, "VAPID_PRIVATE_KEY"),
    ({"VAPID_PRIVATE_KEY": PRIVATE_KEY}, "VAPID_SUBJECT"),
    ({"VAPID_PRIVATE_KEY": PRIVATE_KEY, "VAPID_SUBJECT": "security@example.com"}, "VAPID_SUBJECT"),
])
def test_a_bad_vapid_configuration_stops_start_up_naming_the_variable(tmp_path, env, named):
    with pytest.raises(ConfigError, match=named):
        load_config(env, tmp_path)


def test_plain_http_push_endpoints_are_refused_in_production(tmp_path):
    env = {"APP_ENV": "production", "SECRET_KEY": "s" * 20 + "0123456789abcdefghijklmnop",
           "DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://r", "ENCRYPTION_KEY":
           "0uLhgZ0d7pGcQ7a8Tn8c2o3fZkY6bG0Lw1nX9yVqk0s=", "PUSH_ALLOW_HTTP_ENDPOINTS": "1"}
    with pytest.raises(ConfigError, match="PUSH_ALLOW_HTTP_ENDPOINTS"):
        load_config(env, tmp_path)


def test_generate_vapid_prints_a_usable_private_key(runner, tmp_path):
    output = runner.invoke(args=["push", "generate-vapid"]).output
    private = output.split("VAPID_PRIVATE_KEY=", 1)[1].split()[0]
    public = output.rsplit(" ", 1)[1].strip()
    assert load_config({"VAPID_PRIVATE_KEY": private, "VAPID_SUBJECT": SUBJECT}, tmp_path)["VAPID_PUBLIC_KEY"] == public


# --- the account page and its endpoints ------------------------------------------------------------

def test_account_page_says_when_push_is_not_configured(db, make_user, client_for):
    html = client_for(make_user(Role.CUSTOMER)).get("/account").get_data(as_text=True)
    assert "Push notifications are not configured on this server." in html
    assert "data-push-panel" not in html and "push.js" not in html


def test_a_device_subscribes_and_unsubscribes_from_the_account_page(db, make_user, client_for, push_on):
    user = make_user(Role.ADMIN)
    client = client_for(user)
    html = client.get("/account").get_data(as_text=True)
    assert f'data-public-key="{PUBLIC_KEY}"' in html and "/static/js/push.js" in html
    token = csrf_token_from(html)
    device = Device()
    endpoint = "https://push.example.net/send/abc123"
    answer = client.post("/account/push/subscribe", data={
        "csrf_token": token, "endpoint": endpoint, "p256dh": device.p256dh, "auth": device.auth_b64,
        "device": "Firefox · Android", "locale": "id"}, headers={"Accept": "application/json"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    row = db.session.scalars(select(PushSubscription)).one()
    assert (row.user_id, row.device, row.locale, row.endpoint) == (user.id, "Firefox · Android", "id", endpoint)
    stored = db.session.execute(text("SELECT endpoint, auth FROM push_subscriptions")).one()
    assert endpoint not in stored[0] and device.auth_b64 not in stored[1]  # encrypted at rest
    page = client.get("/account").get_data(as_text=True)
    assert "Firefox · Android" in page and f'data-endpoint-hash="{row.endpoint_hash}"' in page
    assert endpoint not in page  # the capability URL never goes back to a page
    again = client.post("/account/push/unsubscribe", data={"csrf_token": token, "endpoint": endpoint},
                        headers={"Accept": "application/json"})
    assert again.status_code == 200 and again.get_json() == {"removed": True}
    assert db.session.scalars(select(PushSubscription)).all() == []
    assert audit_actions(db) == ["PUSH_SUBSCRIBE", "PUSH_UNSUBSCRIBE"]


@pytest.mark.parametrize("field, value, message", [
    ("endpoint", "http://push.example.net/send/1", "https"),
    ("endpoint", "javascript:alert(1)", "https"),
    ("endpoint", "https://10.0.0.5/internal-admin", "push services"),
    ("endpoint", "https://fcm.googleapis.com.attacker.example/x", "push services"),
    ("p256dh", base64.urlsafe_b64encode(b"\x04" * 10).decode(), "P-256"),
    ("auth", "c2hvcnQ", "16 bytes"),
])
def test_a_subscription_that_cannot_be_delivered_to_is_refused(db, make_user, client_for, app, push_on, monkeypatch,
                                                              field, value, message):
    monkeypatch.setitem(app.config, "PUSH_ALLOW_HTTP_ENDPOINTS", False)
    client = client_for(make_user(Role.CUSTOMER))
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    device = Device()
    data = {"csrf_token": token, "endpoint": "https://push.example.net/send/1", "p256dh": device.p256dh,
            "auth": device.auth_b64, field: value}
    answer = client.post("/account/push/subscribe", data=data, headers={"Accept": "application/json"})
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "invalid_subscription"
    assert message in answer.get_json()["error"]["message"]
    assert db.session.scalars(select(PushSubscription)).all() == [] and audit_actions(db) == []


def test_subscribing_without_push_configured_is_a_clear_error(db, make_user, client_for):
    client = client_for(make_user(Role.CUSTOMER))
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    device = Device()
    answer = client.post("/account/push/subscribe", data={
        "csrf_token": token, "endpoint": "https://push.example.net/x", "p256dh": device.p256dh,
        "auth": device.auth_b64}, headers={"Accept": "application/json"})
    assert answer.status_code == 409 and answer.get_json()["error"]["code"] == "push_not_configured"


def test_a_person_removes_one_of_their_devices_but_never_someone_elses(db, make_user, client_for, push_on):
    owner, other = make_user(Role.ADMIN), make_user(Role.ADMIN)
    mine, _ = subscribe(owner, "https://push.example.net/mine")
    theirs, _ = subscribe(other, "https://push.example.net/theirs")
    db.session.commit()
    client = client_for(owner)
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    assert client.post(f"/account/push/{theirs.id}/remove", data={"csrf_token": token}).status_code == 404
    response = client.post(f"/account/push/{mine.id}/remove", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account#notifications")
    assert [row.id for row in db.session.scalars(select(PushSubscription))] == [theirs.id]
    assert audit_actions(db) == ["PUSH_SUBSCRIBE", "PUSH_SUBSCRIBE", "PUSH_UNSUBSCRIBE"]


def test_the_remove_button_asks_first_and_is_a_real_button(db, make_user, client_for, push_on):
    user = make_user(Role.CUSTOMER)
    subscribe(user, "https://push.example.net/one")
    db.session.commit()
    html = client_for(user).get("/account").get_data(as_text=True)
    assert 'data-confirm="Stop notifications to this device?"' in html
    assert '<button type="submit" class="btn btn-outline-danger btn-sm">Remove Chrome · Linux</button>' in html


def test_a_browser_subscription_moves_to_whoever_subscribes_it_next(db, make_user, push_on):
    first, second = make_user(Role.ADMIN), make_user(Role.ADMIN)
    row, device = subscribe(first, "https://push.example.net/shared")
    again, _ = subscribe(second, "https://push.example.net/shared", device)
    assert again.id == row.id and again.user_id == second.id
    same, _ = subscribe(second, "https://push.example.net/shared", device)
    db.session.commit()
    assert same.id == row.id and audit_actions(db) == ["PUSH_SUBSCRIBE", "PUSH_SUBSCRIBE"]  # no change: no entry


# --- triggers -------------------------------------------------------------------------------------

def queued(job_ids):
    return [(record.params["kind"], record.params["user_ids"] or record.params["permission"], record.params["params"])
            for record in map(jobs.get, job_ids)]


def test_a_new_sign_in_notifies_the_account_owner_only(db, make_user, login_as, push_on, jobs_stay_queued):
    user, bystander = make_user(Role.ADMIN), make_user(Role.ADMIN)
    subscribe(user, "https://push.example.net/u")
    subscribe(bystander, "https://push.example.net/b")
    db.session.commit()
    login_as(user)
    assert queued(jobs_stay_queued) == [("new_sign_in", [user.id], {"method": "password"})]
    record = jobs.get(jobs_stay_queued[0])
    assert user.email not in json.dumps(record.params) and user.display_name not in json.dumps(record.params)


def test_nobody_is_notified_without_a_device_or_without_push(db, make_user, login_as, jobs_stay_queued, app,
                                                             monkeypatch):
    login_as(make_user(Role.ADMIN))
    assert jobs_stay_queued == []


def test_a_failed_backup_check_notifies_the_superadmins(db, app, make_user, push_on, jobs_stay_queued):
    admin, superadmin = make_user(Role.ADMIN), make_user(Role.SUPERADMIN)
    for user in (admin, superadmin):
        subscribe(user, f"https://push.example.net/{user.id}")
    db.session.commit()
    events.send(app, events.backup_failed, backup_id="20260101T000000Z-abcdef", stage="drill")
    assert queued(jobs_stay_queued) == [("backup_failed", "backups.manage",
                                         {"backup_id": "20260101T000000Z-abcdef", "stage": "drill"})]
    assert push.recipients(permission="backups.manage") == [superadmin.id]  # what the job then reads


def test_a_broken_audit_chain_and_a_new_second_factor_notify(db, app, make_user, push_on, jobs_stay_queued):
    superadmin, customer = make_user(Role.SUPERADMIN), make_user(Role.CUSTOMER)
    for user in (superadmin, customer):
        subscribe(user, f"https://push.example.net/{user.id}")
    db.session.commit()
    events.send(app, events.audit_chain_broken, verification_id=1, entry_id=42)
    events.send(app, events.second_factor_added, user_id=customer.id, method="passkey")
    assert queued(jobs_stay_queued) == [("audit_chain_broken", "system.status", {"entry_id": 42}),
                                        ("second_factor_added", [customer.id], {"method": "passkey"})]


def test_a_failed_chain_verification_announces_it(db, app, write_audit, monkeypatch):
    from app.audit import integrity
    from app.audit.chain import ChainBreak, ChainReport

    seen = []
    monkeypatch.setattr(triggers, "on_audit_chain_broken", lambda _app, **payload: seen.append(payload))
    triggers.subscribe_all(app)
    report = ChainReport(checked=3, head_id=3, head_hash="x" * 64, first_break=ChainBreak(2, "modified", "changed"))
    integrity.record_verification(report, started_at=utcnow(), finished_at=utcnow(), source="test")
    db.session.commit()
    assert [p["entry_id"] for p in seen] == [2]


def test_approvals_waiting_too_long_notify_their_deciders_once(db, app, make_user, make_approval, make_institution,
                                                               push_on, jobs_stay_queued, runner):
    home, elsewhere = make_institution(), make_institution()
    requester = make_user(Role.INSTITUTION_ADMIN, institution=home)
    decider_here, decider_there = make_user(Role.INSTITUTION_ADMIN, institution=home), make_user(
        Role.INSTITUTION_ADMIN, institution=elsewhere)
    admin, customer = make_user(Role.ADMIN), make_user(Role.CUSTOMER)
    for user in (requester, decider_here, decider_there, admin, customer):
        subscribe(user, f"https://push.example.net/{user.id}")
    old = make_approval(institution=home, requested_by=requester)
    old.requested_at = utcnow() - timedelta(hours=5)
    fresh = make_approval(institution=home)
    db.session.commit()
    result = runner.invoke(args=["push", "approvals-waiting"])
    assert result.exit_code == 0 and f"1 approval(s) waiting too long: {old.id}" in result.output, result.output
    assert queued(jobs_stay_queued) == [("approval_waiting", sorted([decider_here.id, admin.id]),
                                         {"approval_id": old.id, "hours": 4})]
    assert "none" in runner.invoke(args=["push", "approvals-waiting"]).output  # once per approval
    assert len(jobs_stay_queued) == 1
    assert [n.ref for n in db.session.scalars(select(PushNotice))] == [str(old.id)]
    assert fresh.id != old.id


# --- delivery -------------------------------------------------------------------------------------

def verify_vapid(header: str, audience: str) -> dict:
    """Check the VAPID JWT's ES256 signature against the configured public key; returns its claims."""
    assert header.startswith("vapid ")
    fields = dict(part.strip().split("=", 1) for part in header[len("vapid "):].split(","))
    assert fields["k"] == PUBLIC_KEY
    head, claims, signature = fields["t"].split(".")
    raw = vapid.b64url_decode(signature)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), vapid.b64url_decode(PUBLIC_KEY))
    der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        pytest.fail("the VAPID signature does not verify with the configured public key")
    claims = json.loads(vapid.b64url_decode(claims))
    assert claims["aud"] == audience and claims["sub"] == SUBJECT
    return claims


def test_the_encrypted_push_reaches_a_loopback_receiver_that_decrypts_it(db, make_user, push_on):
    user = make_user(Role.ADMIN)
    with PushReceiver() as receiver:
        english, phone = subscribe(user, receiver.endpoint("laptop"))
        indonesian, tablet = subscribe(user, receiver.endpoint("tablet"), locale="id")
        db.session.commit()
        outcome, result = push_jobs.notify(Ctx(), kind="approval_waiting", user_ids=[user.id],
                                           params={"approval_id": 7, "hours": 4})
    assert outcome == "notified" and result == {"kind": "approval_waiting", "devices": 2, "sent": 2, "gone": 0,
                                                "failed": 0}
    by_path = {message.path: message for message in receiver.received}
    laptop, pad = by_path["/push/laptop"], by_path["/push/tablet"]
    assert laptop.headers["content-encoding"] == "aes128gcm" and int(laptop.headers["ttl"]) > 0
    assert phone.decrypt(laptop.body) == {"title": "Approval waiting", "url": "/approvals/7", "tag": "approval-7",
                                          "body": "Approval request #7 has been waiting for more than 4 hours."}
    assert tablet.decrypt(pad.body)["title"] == "Persetujuan menunggu"
    with pytest.raises(Exception):  # noqa: B017 (any failure: another device's keys cannot read it)
        phone.decrypt(pad.body)
    origin = receiver.endpoint("x").rsplit("/push/", 1)[0]
    verify_vapid(laptop.headers["authorization"], origin)
    assert user.email.encode() not in laptop.body
    db.session.refresh(english)
    assert english.last_sent_at is not None


def test_a_subscription_the_push_service_forgot_is_removed(db, make_user, push_on):
    user = make_user(Role.ADMIN)
    with PushReceiver() as receiver:
        receiver.status["gone"], receiver.status["missing"], receiver.status["busy"] = 410, 404, 503
        for name in ("gone", "missing", "busy", "fine"):
            subscribe(user, receiver.endpoint(name))
        db.session.commit()
        _outcome, result = push_jobs.notify(Ctx(), kind="test", user_ids=[user.id], params={})
    assert (result["sent"], result["gone"], result["failed"]) == (1, 2, 1)
    left = sorted(row.endpoint.rsplit("/", 1)[1] for row in db.session.scalars(select(PushSubscription)))
    assert left == ["busy", "fine"]  # a refusal that is not 404/410 keeps the device
    removed = db.session.scalars(select(AuditLog).where(AuditLog.action == "PUSH_UNSUBSCRIBE")).all()
    assert len(removed) == 2 and all(entry.actor_id is None for entry in removed)  # the system removed them


def test_devices_subscribed_after_the_event_are_not_told_about_it(db, make_user, push_on):
    user = make_user(Role.ADMIN)
    with PushReceiver() as receiver:
        subscribe(user, receiver.endpoint("later"))
        db.session.commit()
        before = (utcnow() - timedelta(minutes=1)).isoformat()
        _outcome, result = push_jobs.notify(Ctx(), kind="test", user_ids=[user.id], params={}, occurred_at=before)
    assert result["devices"] == 0 and receiver.received == []


def test_only_the_browsers_push_services_are_known_by_default(app, monkeypatch):
    from app.push.services import known_push_service
    from app.vapid import settings

    monkeypatch.setitem(app.config, "PUSH_SERVICE_HOSTS", settings({}, production=True)["PUSH_SERVICE_HOSTS"])
    with app.app_context():
        assert known_push_service("fcm.googleapis.com") and known_push_service("web.push.apple.com")
        assert known_push_service("updates.push.services.mozilla.com")
        assert known_push_service("wns2-db5p.notify.windows.com")
        for host in ("127.0.0.1", "localhost", "metadata.google.internal", "evilfcm.googleapis.com.example",
                     "push.services.mozilla.com.evil.example", "apple.com"):
            assert not known_push_service(host), host
    assert settings({"PUSH_SERVICE_HOSTS": " Push.Example.net , "}, production=True)["PUSH_SERVICE_HOSTS"] == (
        "push.example.net",)


def test_test_notifications_are_rate_limited_per_account(db, make_user, client_for, push_on, jobs_stay_queued,
                                                         frozen_clock):
    client = client_for(make_user(Role.ADMIN))
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    answers = [client.post("/account/push/test", data={"csrf_token": token}).status_code for _ in range(6)]
    assert answers[:5] == [302] * 5 and answers[5] == 429
