"""Sessions and sign-in throttles on the real Redis, shared by every worker."""

from __future__ import annotations

import hashlib

import pytest
import redis

from app.security.sessions import RedisSessionStore
from app.users.models import Role
from tests.conftest import DEFAULT_PASSWORD, FormClient

pytestmark = pytest.mark.integration


def test_sessions_live_in_redis_under_hashed_keys_with_the_idle_ttl(app, client, make_user, login_as, redis_url):
    assert isinstance(app.session_interface.store, RedisSessionStore)
    user = make_user(Role.ADMIN)
    login_as(user)
    sid = client.get_cookie("saintara_session").value
    r = redis.Redis.from_url(redis_url)
    key = "saintara:sess:" + hashlib.sha256(sid.encode()).hexdigest()
    assert r.exists(key) and not r.keys(f"*{sid}*")
    assert 0 < r.ttl(key) <= app.config["SESSION_IDLE_TIMEOUT"]
    assert [s.user_id for s in app.session_interface.sessions_for_user(user.id)] == [user.id]


def test_sign_out_everywhere_through_redis(app, make_user, client_for):
    user = make_user(Role.CUSTOMER)
    clients = [client_for(user) for _ in range(3)]
    assert all(c.get("/account").status_code == 200 for c in clients)
    assert app.session_interface.end_sessions_for_user(user.id) == 3
    assert all(c.get("/account").status_code == 302 for c in clients)
    assert app.session_interface.sessions_for_user(user.id) == []


def test_expired_sessions_drop_out_of_the_user_index(app, make_user, client_for, redis_url):
    user = make_user(Role.CUSTOMER)
    client_for(user)
    r = redis.Redis.from_url(redis_url)
    for key in r.keys("saintara:sess:[0-9a-f]*"):
        r.delete(key)  # as if the TTL ran out
    assert app.session_interface.sessions_for_user(user.id) == []
    assert r.scard(f"saintara:sess:user:{user.id}") == 0


def test_throttle_counts_are_shared_between_workers(app, app_config, make_user):
    """Two app instances (two gunicorn workers) see the same failure count."""
    from tests.conftest import build_app

    other_worker = build_app(app_config)
    user = make_user(Role.ADMIN)
    first, second = FormClient(app.test_client()), FormClient(other_worker.test_client())
    for n in range(10):
        worker = first if n % 2 else second
        assert worker.post("/login", {"email": user.email, "password": "wrong password here"}).status_code == 200
    assert first.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD}).status_code == 429
    assert second.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD}).status_code == 429
