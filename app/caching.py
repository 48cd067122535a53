"""Read-through caching on the shared cache (Redis in production), without stampedes.

``cached(cache, key, compute, ttl=...)`` returns the cached value while it is fresh.
When it expires, one caller (whoever takes the rebuild lock, an atomic SET NX) computes
it again while the others keep getting the stale value; when there is no value at all,
the others wait briefly for the one rebuilding, then compute it themselves. Entries are
kept ``STALE_SECONDS`` past their freshness for this.

Each cache belongs to a named *generation*: ``bump(generation)`` makes every entry of
it unreachable at once, on every worker and host. Features keep their named
``clear_*`` helpers next to their cache and call them after the commit that changed
the data (``app.database.after_commit``).

If the cache does not answer, values are computed directly (slower, never broken) and
the cache is not asked again for ``RETRY_SECONDS``. Every read is counted in
``saintara_cache_requests_total{cache, result}`` with result hit, stale, wait, miss or
error.

Keys hold no user id, e-mail or token: a value cached here must be the same for
everyone who can reach it with that key (key by scope, never by person).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import TypeVar

from app.extensions import cache
from app.observability import metrics

T = TypeVar("T")
log = logging.getLogger(__name__)

STALE_SECONDS = 60  # how long past its freshness an entry may still be served while one caller rebuilds it
LOCK_SECONDS = 30  # a rebuild that takes longer lets another caller try
WAIT_SECONDS = 1.0  # a caller with nothing to serve waits this long for the one rebuilding
POLL_SECONDS = 0.02
RETRY_SECONDS = 5.0  # after a failure, the cache is left alone this long

_down_until = 0.0


def _available() -> bool:
    return time.monotonic() >= _down_until


def _failed(what: str) -> None:
    global _down_until
    _down_until = time.monotonic() + RETRY_SECONDS
    log.warning("shared cache unreachable (%s); computing values directly for %s s", what, RETRY_SECONDS,
                exc_info=True)


def reset_outage() -> None:
    """Ask the cache again from the next read on (tests; an operator after a fix)."""
    global _down_until
    _down_until = 0.0


def _count(name: str, result: str) -> None:
    metrics.CACHE_REQUESTS.labels(name, result).inc()


def generation(name: str) -> str:
    """The current generation token of ``name`` (created on first use)."""
    key = f"gen:{name}"
    value = cache.get(key)
    if value is None:
        value = secrets.token_hex(6)
        # add(): when two workers race here, both end up with the same generation.
        if not cache.add(key, value, timeout=0):
            value = cache.get(key) or value
    return value


def bump(*names: str) -> None:
    """Make every entry of these generations unreachable (call after the commit)."""
    if not _available():
        return  # nothing is being served from the cache meanwhile
    try:
        for name in names:
            cache.set(f"gen:{name}", secrets.token_hex(6), timeout=0)
    except Exception:
        _failed(f"clearing {', '.join(names)}")


def cached(name: str, key: str, compute: Callable[[], T], *, ttl: int, generation_of: str | None = None) -> T:
    """``compute()`` cached as ``name``/``key`` for ``ttl`` seconds (see the module docstring).

    ``generation_of`` names the generation the entry belongs to (default: ``name``).
    """
    if not _available():
        _count(name, "error")
        return compute()
    try:
        full_key = f"{name}:{generation(generation_of or name)}:{key}"
        entry = cache.get(full_key)
    except Exception:
        _failed(f"reading {name}")
        _count(name, "error")
        return compute()
    now = time.time()
    if entry is not None and entry[0] > now:
        _count(name, "hit")
        return entry[1]
    try:
        rebuilding = cache.add(f"lock:{full_key}", 1, timeout=LOCK_SECONDS)
    except Exception:
        _failed(f"locking {name}")
        _count(name, "error")
        return compute()
    if rebuilding:
        _count(name, "miss")
        return _rebuild(full_key, compute, ttl)
    if entry is not None:
        _count(name, "stale")
        return entry[1]
    waited = _wait_for(full_key)
    if waited is not None:
        _count(name, "wait")
        return waited[1]
    _count(name, "miss")
    return compute()


def _rebuild(full_key: str, compute: Callable[[], T], ttl: int) -> T:
    try:
        value = compute()
    except BaseException:
        _release(full_key)
        raise
    try:
        cache.set(full_key, (time.time() + ttl, value), timeout=ttl + STALE_SECONDS)
    except Exception:
        _failed("storing a value")
    _release(full_key)
    return value


def _release(full_key: str) -> None:
    try:
        cache.delete(f"lock:{full_key}")
    except Exception:
        _failed("releasing a rebuild lock")


def _wait_for(full_key: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        try:
            entry = cache.get(full_key)
        except Exception:
            _failed("waiting for a value")
            return None
        if entry is not None:
            return entry
    return None
