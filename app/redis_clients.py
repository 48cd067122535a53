"""How the portal talks to Redis: every client (sessions, cache, rate limits, jobs, analytics)
is made with :func:`options`, so that they all ride through a restart the same way.

A Redis that restarts refuses connections for a moment and then answers ``LOADING`` while it
reads its append-only file back (``BusyLoadingError``). redis-py clients made with
``from_url`` retry nothing by default, so every request in that moment lost its session (a
load test's failure run: sign-in refused for a missing CSRF token, pages redirected to the
sign-in). The clients retry exactly ``LOADING``, backing off for about 1.6 s in all; a Redis
that refuses connections or does not answer is not retried, because that must cost a request
milliseconds (the callers fall back: app.security.sessions, app.caching, app.security.counters).
"""

from __future__ import annotations

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError
from redis.retry import Retry

LOADING_RETRIES = 8
LOADING_BACKOFF = ExponentialBackoff(cap=0.25, base=0.025)  # 0.05, 0.1, 0.2, then 0.25 s


def loading_retry() -> Retry:
    """Retry a command while Redis is loading its data after a start, and nothing else."""
    return Retry(LOADING_BACKOFF, LOADING_RETRIES, supported_errors=(BusyLoadingError,))


def options(timeout: float | None) -> dict:
    """Keyword arguments of a client (``timeout`` None: no socket timeout, for blocking reads)."""
    found = {"retry": loading_retry()}
    if timeout is not None:
        found.update(socket_timeout=timeout, socket_connect_timeout=timeout)
    return found


def client(url: str, timeout: float | None) -> Redis:
    """A client of the Redis at ``url`` made with :func:`options`."""
    return Redis.from_url(url, **options(timeout))
