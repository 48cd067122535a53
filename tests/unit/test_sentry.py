"""Sentry: events reach a (loopback) Sentry, and no planted secret is in anything sent."""

from __future__ import annotations

import json
import re

import pytest
import sentry_sdk

from app.extensions import csrf
from app.observability.sentry import scrub_event, shape
from app.security.access import public
from app.users.models import Role
from tests.sentry_server import EnvelopeServer

AUTHORIZATION = "sat_plantedAuthorizationToken0001"
HEADER = "planted-header-7f3a9c21"
COOKIE = "planted-cookie-5e1d0b"
PASSWORD = "planted-form-password-88c1"
TOTP = "914273"
QUERY = "planted-query-value-2c4d"
JSON_OBJECT = "planted-json-object-4b2e"
JSON_NESTED = "planted-json-nested-0a9f"
ARRAY_ITEM = "planted-array-item-6d7c"
ARRAY_OBJECT = "planted-array-object-31aa"
EXCEPTION_ONLY = "sat_exceptionOnlyToken9999"
MESSAGE_PASSWORD = "planted-in-message-77ab"
PLANTED = [AUTHORIZATION, HEADER, COOKIE, PASSWORD, TOTP, QUERY, JSON_OBJECT, JSON_NESTED, ARRAY_ITEM,
           ARRAY_OBJECT, EXCEPTION_ONLY, MESSAGE_PASSWORD]


@pytest.fixture
def sentry_app(app_config):
    """An app reporting to a loopback envelope server, with a route that fails loudly."""
    from flask import request

    from tests.conftest import build_app

    with EnvelopeServer() as server:
        application = build_app({**app_config, "SENTRY_DSN": server.dsn, "SENTRY_ENVIRONMENT": "test",
                                 "SENTRY_RELEASE": "saintara@test", "SENTRY_TRACES_SAMPLE_RATE": 1.0,
                                 "PROPAGATE_EXCEPTIONS": False})

        @application.post("/boom")
        @public
        def boom():
            body = request.get_json(silent=True)
            seen = request.form.get("password") or json.dumps(body)
            raise ValueError(f"could not use {seen}; token {EXCEPTION_ONLY}; password={MESSAGE_PASSWORD}")

        csrf.exempt(boom)
        try:
            yield application, server
        finally:
            sentry_sdk.flush(5)
            sentry_sdk.init()  # switch the SDK off again for the rest of the suite


def signed_in_client(application, user):
    """A client of ``application`` with a server-side session of ``user`` (as conftest's client_for)."""
    import secrets
    import time

    from flask.sessions import session_json_serializer

    from app.security.sessions import session_key

    sid, now = secrets.token_urlsafe(32), time.time()
    application.session_interface.store.save(session_key(sid), {
        "data": session_json_serializer.dumps({"_user_id": str(user.id), "_fresh": True}),
        "meta": {"created": now, "last_seen": now, "user_id": user.id}}, ttl=600)
    client = application.test_client()
    client.set_cookie(application.config["SESSION_COOKIE_NAME"], sid)
    return client, sid


def test_no_planted_secret_reaches_sentry(sentry_app, make_user, capsys):
    application, server = sentry_app
    user = make_user(Role.ADMIN)
    browser, session_id = signed_in_client(application, user)
    browser.set_cookie("tracking", COOKIE)
    headers = {"Authorization": f"Bearer {AUTHORIZATION}", "X-Custom-Secret": HEADER}
    form = browser.post(f"/boom?token={QUERY}", data={"password": PASSWORD, "code": TOTP, "email": user.email},
                        headers=headers)
    as_object = browser.post("/boom", json={"api_token": JSON_OBJECT, "nested": {"note": JSON_NESTED}},
                             headers=headers)
    as_array = browser.post("/boom", json=[ARRAY_ITEM, {"password": ARRAY_OBJECT}, 3, True, None],
                            headers=headers)
    for response in (form, as_object, as_array):
        assert response.status_code == 500
    sentry_sdk.flush(10)
    events = server.wait_for("event")
    assert len(events) >= 3
    server.wait_for("transaction")

    raw = server.raw().decode("utf-8", "replace")
    leaked = [secret for secret in PLANTED + [user.email, session_id] if secret in raw]
    assert not leaked, f"sent to Sentry: {leaked}"
    logged = capsys.readouterr().err
    assert "Exception on /boom" in logged
    assert not [secret for secret in PLANTED + [session_id] if secret in logged], "secrets in the logs"

    by_request = {event["tags"]["request_id"]: event for event in events}
    for response in (form, as_object, as_array):
        event = by_request[response.headers["X-Request-ID"]]
        assert event["user"] == {"id": str(user.id)}
        assert event["environment"] == "test" and event["release"] == "saintara@test"
        assert event["transaction"] == "/boom" and event["request"]["url"].endswith("/boom")
        page = response.get_data(as_text=True)
        assert re.search(r'data-testid="event-id">' + event["event_id"], page), "the error page shows the event id"
    form_event = by_request[form.headers["X-Request-ID"]]
    assert form_event["request"]["data"] == {"password": "<str>", "code": "<str>", "email": "<str>"}
    assert form_event["request"]["query_string"] == "token=[Filtered]"
    assert form_event["request"]["headers"]["X-Custom-Secret"] == "[Filtered]"
    assert "Cookie" not in form_event["request"]["headers"] or form_event["request"]["headers"]["Cookie"] in (
        "[Filtered]", "")
    array_event = by_request[as_array.headers["X-Request-ID"]]
    assert array_event["request"]["data"] == ["<str>", {"password": "<str>"}, "<number>", "<bool>", None]
    message = form_event["exception"]["values"][-1]["value"]
    assert "[Filtered]" in message and "[REDACTED]" in message


def test_scrubbing_handles_bodies_of_any_shape():
    assert shape("raw text body") == "<str>"
    assert shape(b"\x00\x01") == "<str>"
    assert shape({"a": [1, {"b": "c"}]}) == {"a": ["<number>", {"b": "<str>"}]}
    assert shape(list(range(30)))[-1] == "<10 more>"
    event = {"request": {"data": "password=hunter2hunter2&x=1", "url": "https://h/reset-password/abc",
                         "query_string": "a=1&b="},
             "transaction": "/reset-password/<token>",
             "breadcrumbs": {"values": [{"message": "posted hunter2hunter2&x=1"}]}}
    scrubbed = scrub_event(event)
    assert scrubbed["request"]["data"] == "<str>"
    assert scrubbed["request"]["url"] == "https://h/reset-password/<token>"
    assert scrubbed["request"]["query_string"] == "a=[Filtered]&b=[Filtered]"
    assert "hunter2hunter2" not in json.dumps(scrubbed)


def test_a_scrubber_failure_drops_the_event(monkeypatch):
    from app.observability import sentry

    monkeypatch.setattr(sentry, "_scrub_request", lambda *_a: 1 / 0)
    assert scrub_event({"request": {"data": {"password": "x"}}}) is None


def test_the_browser_sdk_loads_only_with_a_dsn_and_reports_through_this_site(app, app_config):
    from tests.conftest import build_app

    page = app.test_client().get("/login").get_data(as_text=True)
    assert "sentry" not in page.lower()
    with_dsn = build_app({**app_config, "SENTRY_BROWSER_DSN": "https://key@errors.example.com:8443/7"})
    response = with_dsn.test_client().get("/login")
    page = response.get_data(as_text=True)
    assert '/static/vendor/sentry/sentry.min.js' in page and 'data-dsn="https://key@errors.example.com:8443/7"' in page
    assert 'data-tunnel="/sentry-tunnel"' in page
    assert "connect-src 'self';" in response.headers["Content-Security-Policy"]  # no other origin, ever
    assert "worker-src 'self';" in response.headers["Content-Security-Policy"]
    assert "errors.example.com" not in response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in response.headers["Content-Security-Policy"]
