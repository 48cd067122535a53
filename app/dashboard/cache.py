"""The dashboard's cached aggregates and the helper that invalidates them.

Figures are cached per scope (all institutions, or one) for at most
``CACHE_SECONDS``. The services that change what they count (decisions, imports,
institution changes) call :func:`clear_dashboard_cache` after their commit; it moves
the cache to a new generation, so every worker and host (Redis in production) stops
reading the old figures at once. The time limit covers what changes elsewhere
(sign-in failures, rows written by other features).

The charts' past days do not change when someone decides or imports today, so they are
kept apart (``history=True``) for ``HISTORY_SECONDS`` and survive an ordinary clear;
whatever rewrites the past (a restore, demo data) calls
``clear_dashboard_cache(history=True)``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import TypeVar

from app.extensions import cache

GENERATION_KEY = "dashboard:generation"
HISTORY_GENERATION_KEY = "dashboard:history-generation"
CACHE_SECONDS = 60
HISTORY_SECONDS = 3600
log = logging.getLogger(__name__)
T = TypeVar("T")


def _generation(key: str) -> str:
    generation = cache.get(key)
    if generation is None:
        generation = secrets.token_hex(8)
        # add(): when two workers race here, both end up reading the same generation.
        if not cache.add(key, generation, timeout=0):
            generation = cache.get(key) or generation
    return generation


def cached(name: str, scope: int | None, compute: Callable[[], T], *, history: bool = False) -> T:
    """``compute()`` cached under ``name`` for one scope; computed directly if the cache is down.

    ``history=True`` keeps it for an hour, through ordinary clears (past days of the charts).
    """
    generation_key, seconds = (HISTORY_GENERATION_KEY, HISTORY_SECONDS) if history else (GENERATION_KEY,
                                                                                          CACHE_SECONDS)
    try:
        key = f"dashboard:{_generation(generation_key)}:{name}:{'all' if scope is None else scope}"
        value = cache.get(key)
    except Exception:  # a cache outage must not take the dashboard down
        log.warning("dashboard cache unreachable; computing figures directly", exc_info=True)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(key, value, timeout=seconds)
        except Exception:
            log.warning("dashboard cache unreachable; figures not cached", exc_info=True)
    return value


def clear_dashboard_cache(*, history: bool = False) -> None:
    """Forget the cached dashboard figures (call it after the commit that changed them);
    ``history=True`` forgets the charts' past days too."""
    try:
        cache.set(GENERATION_KEY, secrets.token_hex(8), timeout=0)
        if history:
            cache.set(HISTORY_GENERATION_KEY, secrets.token_hex(8), timeout=0)
    except Exception:
        log.warning("dashboard cache unreachable; could not clear it", exc_info=True)
