"""A session store that does not answer: pages are still served, signed out, with a notice."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError

from app.users.models import Role


def test_pages_are_served_without_sessions_while_the_store_is_down(app, make_user, client_for, monkeypatch):
    browser = client_for(make_user(Role.ADMIN))
    assert browser.get("/dashboard").status_code == 200
    store = app.session_interface.store

    def down(*_args, **_kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(store, "load", down)
    monkeypatch.setattr(store, "save", down)
    monkeypatch.setattr(store, "delete", down)
    login = browser.get("/login")
    assert login.status_code == 200 and 'data-testid="session-store-down"' in login.get_data(as_text=True)
    assert "Set-Cookie" not in login.headers  # a session that was not kept gets no cookie
    dashboard = browser.get("/dashboard")
    assert dashboard.status_code == 302 and dashboard.headers["Location"].startswith("/login")
    assert browser.get("/healthz").status_code == 200
    monkeypatch.undo()
    assert browser.get("/dashboard").status_code == 200  # the session was never lost
