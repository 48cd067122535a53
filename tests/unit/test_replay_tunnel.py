"""POST /sentry-tunnel: browser envelopes for the configured DSN only, within a size cap, sent on
to Sentry byte for byte; replay items only from sessions that may be recorded."""

from __future__ import annotations

import json

import pytest

from app.consent import notices
from app.consent import services as consent
from app.consent.models import ConsentSource
from app.replay.tunnel import MAX_ENVELOPE_BYTES
from app.security.actor import Actor
from app.users.models import Role
from tests.sentry_server import EnvelopeServer

SAME = {"Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def sentry(app, monkeypatch):
    """A loopback Sentry, named by the app's browser DSN for this test."""
    with EnvelopeServer() as server:
        monkeypatch.setitem(app.config, "SENTRY_BROWSER_DSN", server.dsn)
        yield server


def settled(app) -> None:
    """Wait until the forwarder has sent (or given up on) everything queued."""
    app.extensions["sentry_tunnel"].queue.join()


def envelope(dsn: str, *items: tuple[dict, bytes]) -> bytes:
    lines = [json.dumps({"event_id": "0" * 32, "dsn": dsn, "sent_at": "2026-01-01T00:00:00Z"}).encode()]
    for header, payload in items:
        lines += [json.dumps(header).encode(), payload]
    return b"\n".join(lines) + b"\n"


def error_event(dsn: str) -> bytes:
    return envelope(dsn, ({"type": "event"}, json.dumps({"message": "browser failure"}).encode()))


def replay_envelope(dsn: str) -> bytes:
    recording = b'{"segment_id":0}\n' + bytes(range(256))  # compressed segments are binary
    event = json.dumps({"type": "replay_event", "replay_id": "a" * 32}).encode()
    return envelope(dsn, ({"type": "replay_event"}, event),
                    ({"type": "replay_recording", "length": len(recording)}, recording))


def post(client, body: bytes, headers=SAME):
    return client.post("/sentry-tunnel", data=body, headers=headers, content_type="text/plain;charset=UTF-8")


def replay_consent(user, granted: bool = True) -> None:
    system = Actor.system("test")
    if notices.latest_notice("session_replay") is None:
        notices.publish(system, "session_replay", text_en="Record my sessions, masked.",
                        text_id="Rekam sesi saya, disamarkan.", material=True)
    consent.record(Actor.for_user(user), consent.subject_of_user(user), "session_replay", granted=granted,
                   source=ConsentSource.ACCOUNT, notice_version=notices.latest_notice("session_replay").version)


def test_an_envelope_for_the_configured_dsn_is_sent_on_byte_for_byte(app, client, sentry):
    body = error_event(sentry.dsn)
    response = post(client, body)
    assert response.status_code == 202, response.get_data(as_text=True)
    sentry.wait_for("event")
    settled(app)
    assert [envelope.raw for envelope in sentry.envelopes] == [body]
    assert sentry.requests == [("/api/42/envelope/?sentry_key=public0123456789abcdef&sentry_version=7",
                                "application/x-sentry-envelope")]


@pytest.mark.parametrize("other", [
    "http://another0123456789abcdef@127.0.0.1:{port}/42",  # another key
    "http://public0123456789abcdef@127.0.0.1:{port}/43",  # another project
    "http://public0123456789abcdef@127.0.0.2:{port}/42",  # another host
    "https://public0123456789abcdef@o1.ingest.sentry.io/42",
    "not a dsn",
    None,
])
def test_an_envelope_for_another_dsn_or_project_is_refused(app, client, sentry, other):
    dsn = other.format(port=sentry.port) if other else None
    header = {"event_id": "0" * 32} | ({"dsn": dsn} if dsn else {})
    body = json.dumps(header).encode() + b'\n{"type":"event"}\n{}\n'
    response = post(client, body)
    assert response.status_code == 400 and response.json["error"]["code"] == "wrong_dsn"
    settled(app)
    assert sentry.envelopes == []


def test_an_envelope_over_the_cap_is_refused_unread(app, client, sentry):
    padding = b"x" * (MAX_ENVELOPE_BYTES + 1)
    body = envelope(sentry.dsn, ({"type": "event", "length": len(padding)}, padding))
    response = post(client, body)
    assert response.status_code == 413 and response.json["error"]["code"] == "too_large"
    just_fits = envelope(sentry.dsn, ({"type": "event", "length": 10}, b"x" * 10))
    assert post(client, just_fits).status_code == 202
    settled(app)
    assert [envelope.raw for envelope in sentry.envelopes] == [just_fits]


@pytest.mark.parametrize("body", [
    b"",
    b"not json",
    b"\xff\xfe\n{}",
    b"[1]\n{}\n{}",
    b'{"dsn": "%s"}',  # no item
    b'{"dsn": "%s"}\n{"type": "attachment"}\n{}',  # an item the portal's SDK never sends
    b'{"dsn": "%s"}\n{"type": "event", "length": 99}\n{}',  # shorter than said
    b'{"dsn": "%s"}\n{"type": "event", "length": 1}\n{}',  # longer than said
    b'{"dsn": "%s"}\n{"type": "event", "length": -1}\n{}',
    b'{"dsn": "%s"}\n{"type": "event\\u0000"}\n{}',
    b'{"dsn": "%s"}\n{"type": 5}\n{}',
    b'{"dsn": "%s"}\n' + b'{"type": "event"}\n{}\n' * 21,  # too many items
])
def test_malformed_envelopes_are_a_400_with_a_stable_code(app, client, sentry, body):
    if b"%s" in body:
        body = body.replace(b"%s", sentry.dsn.encode())
    response = post(client, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"]["code"] in {"invalid_envelope", "wrong_dsn", "validation_error"}
    settled(app)
    assert sentry.envelopes == []


def test_only_pages_of_this_site_may_post(app, client, sentry):
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}, {}):
        response = post(client, error_event(sentry.dsn), headers)
        assert response.status_code == 403 and response.json["error"]["code"] == "cross_origin"
    assert post(client, error_event(sentry.dsn), {"Origin": "http://localhost"}).status_code == 202


def test_without_a_browser_dsn_there_is_no_tunnel(client):
    assert post(client, b'{"dsn": "http://k@127.0.0.1:9/1"}\n{"type":"event"}\n{}').status_code == 404


def test_replays_pass_only_for_sessions_that_may_be_recorded(app, db, client, sentry, make_user, client_for):
    body = replay_envelope(sentry.dsn)
    refused = post(client, body)  # anonymous
    assert refused.status_code == 403 and refused.json["error"]["code"] == "replay_not_allowed"
    user = make_user(Role.ADMIN)
    db.session.commit()
    signed_in = client_for(user)
    assert post(signed_in, body).status_code == 403  # no consent yet
    replay_consent(user)
    db.session.commit()
    assert post(signed_in, body, {**SAME, "DNT": "1"}).status_code == 403
    assert post(signed_in, body, {**SAME, "Sec-GPC": "1"}).status_code == 403
    assert post(signed_in, body).status_code == 202
    recording = sentry.wait_for("replay_recording")
    settled(app)
    assert [envelope.raw for envelope in sentry.envelopes] == [body] and recording[0].endswith(bytes(range(256)))
    replay_consent(user, granted=False)
    db.session.commit()
    assert post(signed_in, body).status_code == 403  # a withdrawal stops a page that still records


def test_a_full_queue_asks_the_browser_to_wait(app, client, sentry, monkeypatch):
    monkeypatch.setattr(app.extensions["sentry_tunnel"], "submit", lambda _url, _body: False)
    response = post(client, error_event(sentry.dsn))
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert response.json["error"]["code"] == "busy"
