"""Rate limits and the shared cache on the real Redis: shared by every worker, keyed by scope."""

from __future__ import annotations

import pytest
import redis

from app import caching, redis_clients
from app.security import limiting
from app.users.models import Role
from tests.conftest import build_app

pytestmark = pytest.mark.integration


@pytest.fixture
def other_worker(app_config):
    """A second app instance on the same database and Redis, as a second gunicorn worker would be."""
    return build_app(app_config)


def test_request_limits_are_counted_once_for_every_worker(app, other_worker, monkeypatch):
    monkeypatch.setattr(limiting, "clock", lambda: 1_900_000_801.0)
    first, second = app.test_client(), other_worker.test_client()
    headers = {"Authorization": "Bearer sat_shared-by-every-worker"}
    remaining = [int((first if n % 2 else second).get("/api/v1/openapi.json", headers=headers)
                     .headers["X-RateLimit-Remaining"]) for n in range(6)]
    assert remaining == [599, 598, 597, 596, 595, 594]  # one counter, whichever worker answered


def test_cached_values_are_shared_and_cleared_for_every_worker(app, other_worker):
    with app.app_context():
        assert caching.cached("probe", "k", lambda: "first", ttl=60) == "first"
    with other_worker.app_context():
        assert caching.cached("probe", "k", lambda: "second", ttl=60) == "first"  # the other worker's value
        caching.bump("probe")
    with app.app_context():
        assert caching.cached("probe", "k", lambda: "third", ttl=60) == "third"


def test_shared_keys_name_scopes_never_people(app, db, redis_url, make_user, make_institution, staff, client_for):
    institution = make_institution()
    people = [make_user(Role.INSTITUTION_ADMIN, institution=institution), make_user(Role.SUPERADMIN)]
    for person in people:
        forms = staff(person)
        for page in ("/dashboard", "/transactions", "/approvals"):
            assert forms.client.get(page).status_code == 200
    keys = [key.decode() for key in redis.Redis.from_url(redis_url).keys("saintara:cache:*")]
    assert keys
    for key in keys:
        name = key.removeprefix("saintara:cache:")
        assert name.split(":", 1)[0] in {"gen", "lock", "dashboard", "facets", "api", "settings"}, key
        assert not any(person.email in key for person in people) and "user" not in name, key


def test_every_redis_client_of_the_portal_waits_for_a_restarting_redis(app):
    """Sessions, cache, rate limits and jobs all retry LOADING (app.redis_clients); a client made
    some other way would lose its request's session during a restart of Redis."""
    from app.extensions import cache, limiter
    from app.jobs.store import redis_client

    with app.app_context():
        clients = {"sessions": app.session_interface.store._redis, "cache": cache.cache._read_client,
                   "limits": limiter.storage.storage, "jobs": redis_client()}
    for name, client in clients.items():
        retry = client.connection_pool.connection_kwargs.get("retry")
        assert retry is not None and retry.get_retries() == redis_clients.LOADING_RETRIES, name
        assert retry._supported_errors == (redis.exceptions.BusyLoadingError,), name
