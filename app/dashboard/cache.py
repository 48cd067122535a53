"""The dashboard's cached aggregates and the helper that invalidates them.

Figures are cached per scope (all institutions, or one) for at most
``CACHE_SECONDS``. The services that change what they count (decisions, imports,
institution changes) call :func:`clear_dashboard_cache` after their commit; it moves
the cache to a new generation, so every worker and host (Redis in production) stops
reading the old figures at once. The time limit covers what changes elsewhere
(sign-in failures, rows written by other features).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import TypeVar

from app.extensions import cache

GENERATION_KEY = "dashboard:generation"
CACHE_SECONDS = 60
log = logging.getLogger(__name__)
T = TypeVar("T")


def _generation() -> str:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        generation = secrets.token_hex(8)
        # add(): when two workers race here, both end up reading the same generation.
        if not cache.add(GENERATION_KEY, generation, timeout=0):
            generation = cache.get(GENERATION_KEY) or generation
    return generation


def cached(name: str, scope: int | None, compute: Callable[[], T]) -> T:
    """``compute()`` cached under ``name`` for one scope; computed directly if the cache is down."""
    try:
        key = f"dashboard:{_generation()}:{name}:{'all' if scope is None else scope}"
        value = cache.get(key)
    except Exception:  # a cache outage must not take the dashboard down
        log.warning("dashboard cache unreachable; computing figures directly", exc_info=True)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(key, value, timeout=CACHE_SECONDS)
        except Exception:
            log.warning("dashboard cache unreachable; figures not cached", exc_info=True)
    return value


def clear_dashboard_cache() -> None:
    """Forget every cached dashboard figure (call it after the commit that changed them)."""
    try:
        cache.set(GENERATION_KEY, secrets.token_hex(8), timeout=0)
    except Exception:
        log.warning("dashboard cache unreachable; could not clear it", exc_info=True)
