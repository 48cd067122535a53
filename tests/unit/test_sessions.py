"""Server-side sessions: cookie flags, timeouts, listing and ending sessions."""

import time

from app.security import sessions
from app.security.sessions import MemorySessionStore, session_key
from app.users.models import Role


def cookie_header(response):
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("saintara_session="))


def test_cookie_is_httponly_lax_and_holds_only_an_id(app, client, make_user, login_as):
    response = login_as(make_user(Role.ADMIN))
    header = cookie_header(response)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    sid = client.get_cookie("saintara_session").value
    assert len(sid) >= 43  # 256 bits of randomness, nothing else
    record = app.session_interface.store.load(session_key(sid))
    assert record["meta"]["user_id"] is not None and sid not in str(record)


def test_secure_cookie_in_production(app, monkeypatch, client, make_user, login_as):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    assert "Secure" in cookie_header(login_as(make_user(Role.ADMIN)))


def test_idle_timeout_ends_the_session(app, client, make_user, login_as, monkeypatch):
    login_as(make_user(Role.ADMIN))
    assert client.get("/dashboard").status_code == 200
    later = time.time() + app.config["SESSION_IDLE_TIMEOUT"] + 1
    monkeypatch.setattr(sessions.time, "time", lambda: later)
    assert client.get("/dashboard").status_code == 302


def test_activity_keeps_the_session_alive_until_the_absolute_limit(app, client, make_user, login_as, monkeypatch):
    login_as(make_user(Role.ADMIN))
    start = time.time()
    idle, absolute = app.config["SESSION_IDLE_TIMEOUT"], app.config["SESSION_ABSOLUTE_TIMEOUT"]
    now = start
    while now + idle / 2 < start + absolute - 60:
        now += idle / 2
        monkeypatch.setattr(sessions.time, "time", lambda now=now: now)
        assert client.get("/dashboard").status_code == 200, (now - start) / 3600
    monkeypatch.setattr(sessions.time, "time", lambda: start + absolute + 1)
    assert client.get("/dashboard").status_code == 302


def test_sessions_are_listed_and_ended_per_user(app, make_user, forms, client):
    from tests.conftest import DEFAULT_PASSWORD, FormClient

    user = make_user(Role.ADMIN)
    others = [app.test_client() for _ in range(2)]
    for other in [client, *others]:
        FormClient(other).post("/login", {"email": user.email, "password": DEFAULT_PASSWORD})
    interface = app.session_interface
    listed = interface.sessions_for_user(user.id)
    assert len(listed) == 3 and all(s.ip == "127.0.0.1" for s in listed)
    mine = session_key(client.get_cookie("saintara_session").value)
    assert interface.end_sessions_for_user(user.id, except_key=mine) == 2
    assert [s.key for s in interface.sessions_for_user(user.id)] == [mine]
    assert all(o.get("/dashboard").status_code == 302 for o in others)
    assert client.get("/dashboard").status_code == 200


def test_memory_store_expires_records():
    store = MemorySessionStore()
    store.save("k", {"data": "{}", "meta": {"user_id": 1}}, ttl=-1)
    assert store.load("k") is None
    store.save("k2", {"data": "{}", "meta": {"user_id": 1}}, ttl=60)
    store.delete("k2")
    assert store.keys_for_user(1) == [] or store.load("k2") is None


def test_anonymous_visits_without_a_form_store_nothing(app):
    fresh = app.test_client()
    response = fresh.get("/healthz")
    assert not response.headers.getlist("Set-Cookie")


def test_garbage_cookie_is_ignored(app):
    fresh = app.test_client()
    fresh.set_cookie("saintara_session", "x" * 500)
    assert fresh.get("/dashboard").status_code == 302
