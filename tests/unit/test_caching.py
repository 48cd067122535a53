"""The shared cache: one rebuild at a time, stale values meanwhile, outages tolerated, counted."""

from __future__ import annotations

import threading
import time

import pytest

from app import caching
from app.extensions import cache
from app.observability import metrics
from app.platform.services import facets
from app.platform.services import institutions as institution_service
from app.security.actor import Actor


def count(name: str, result: str) -> float:
    return metrics.CACHE_REQUESTS.labels(name, result)._value.get()


def test_hit_miss_and_bump_are_counted(app):
    with app.app_context():
        before = {r: count("probe", r) for r in ("hit", "miss")}
        assert caching.cached("probe", "k", lambda: 1, ttl=60) == 1
        assert caching.cached("probe", "k", lambda: 2, ttl=60) == 1
        caching.bump("probe")
        assert caching.cached("probe", "k", lambda: 3, ttl=60) == 3
        assert count("probe", "miss") == before["miss"] + 2
        assert count("probe", "hit") == before["hit"] + 1


def test_one_rebuild_while_the_others_get_the_stale_value(app, monkeypatch):
    with app.app_context():
        assert caching.cached("hot", "k", lambda: "old", ttl=1) == "old"
        real_time = time.time
        monkeypatch.setattr(caching.time, "time", lambda: real_time() + 5)  # the entry is past its freshness
        started, release, computed = threading.Event(), threading.Event(), []
        results = []

        def slow_rebuild():
            computed.append(1)
            started.set()
            release.wait(5)
            return "new"

        def reader():
            with app.app_context():
                results.append(caching.cached("hot", "k", slow_rebuild, ttl=60))

        first = threading.Thread(target=reader)
        first.start()
        assert started.wait(5)
        others = [threading.Thread(target=reader) for _ in range(5)]
        for thread in others:
            thread.start()
        for thread in others:
            thread.join(5)
        assert results == ["old"] * 5  # served stale at once, nobody else rebuilt
        release.set()
        first.join(5)
        assert results[-1] == "new" and computed == [1]
        assert caching.cached("hot", "k", lambda: "newer", ttl=60) == "new"


def test_a_cold_key_is_built_once_while_the_others_wait(app):
    with app.app_context():
        computed, results = [], []
        gate = threading.Barrier(4)

        def build():
            computed.append(1)
            time.sleep(0.2)
            return "value"

        def reader():
            with app.app_context():
                gate.wait(5)
                results.append(caching.cached("cold", "k", build, ttl=60))

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert results == ["value"] * 4
        assert len(computed) == 1


def test_a_failed_rebuild_releases_the_lock(app):
    with app.app_context():
        def broken():
            raise RuntimeError("database hiccup")

        with pytest.raises(RuntimeError):
            caching.cached("fragile", "k", broken, ttl=60)
        assert caching.cached("fragile", "k", lambda: "fine", ttl=60) == "fine"


def test_an_unreachable_cache_means_computing_directly(app, monkeypatch):
    def down(*_args, **_kwargs):
        raise ConnectionError("cache down")

    with app.app_context():
        before = count("outage", "error")
        monkeypatch.setattr(cache, "get", down)
        calls = []
        assert caching.cached("outage", "k", lambda: calls.append(1) or 7, ttl=60) == 7
        # Not asked again for a while: no connection attempt per read during an outage.
        monkeypatch.setattr(cache, "get", lambda *_a, **_k: pytest.fail("the cache was asked during the outage"))
        assert caching.cached("outage", "k", lambda: calls.append(1) or 8, ttl=60) == 8
        caching.bump("outage")  # does nothing, raises nothing
        assert count("outage", "error") == before + 2 and len(calls) == 2


def test_facets_are_cached_per_scope_and_cleared_by_institution_changes(app, db, make_institution):
    first = make_institution(name="Alpha Bank", code="AAA1")
    db.session.commit()
    assert (first.id, "AAA1 · Alpha Bank") in facets.institution_choices(None)
    assert facets.institution_choices(first.id) == [(first.id, "AAA1 · Alpha Bank")]
    created = institution_service.create(Actor.system("t"), code="ZZZ9", name="Zeta Bank")
    assert (created.id, "ZZZ9 · Zeta Bank") not in facets.institution_choices(None)  # not committed yet
    db.session.commit()
    assert (created.id, "ZZZ9 · Zeta Bank") in facets.institution_choices(None)
    assert (created.id, "Zeta Bank") in facets.institution_names()


def test_cache_keys_name_scopes_never_people(app, db, make_user, staff, make_institution):
    from app.users.models import Role

    institution = make_institution()
    admin = make_user(Role.INSTITUTION_ADMIN, institution=institution)
    for user in (admin, make_user(Role.SUPERADMIN)):
        forms = staff(user)
        forms.client.get("/dashboard")
        forms.client.get("/transactions")
    keys = list(cache.cache._cache)  # SimpleCache's own store
    assert keys, "nothing was cached"
    for key in keys:
        assert admin.email not in key and "user" not in key.split(":")[2:], key
        assert key.split(":", 1)[0] in {"gen", "lock", "dashboard", "facets", "api", "settings"}, key
