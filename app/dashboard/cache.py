"""The dashboard's cached aggregates and the helper that invalidates them.

Figures are cached per scope (all institutions, or one) for at most
``CACHE_SECONDS`` on the shared cache (app.caching: one rebuild at a time, stale
values served meanwhile, computed directly when the cache is down). The events of what
changes the figures (decisions, imports, institution changes: app.events) clear it after
their commit (:func:`subscribe`, from the dashboard's init_app); it moves the cache to a new
generation, so every worker and host (Redis in production) stops reading the old
figures at once. The time limit covers what changes elsewhere (sign-in failures, rows
written by other features).

The charts' past days do not change when someone decides or imports today, so they are
kept apart (``history=True``) for ``HISTORY_SECONDS`` and survive an ordinary clear;
whatever rewrites the past (a restore, demo data) clears them with
``clear_dashboard_cache(history=True)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from app import caching, events

GENERATION = "dashboard"
HISTORY_GENERATION = "dashboard-history"
CACHE_SECONDS = 60
HISTORY_SECONDS = 3600
T = TypeVar("T")


def cached(name: str, scope: int | None, compute: Callable[[], T], *, history: bool = False) -> T:
    """``compute()`` cached under ``name`` for one scope; computed directly if the cache is down.

    ``history=True`` keeps it for an hour, through ordinary clears (past days of the charts).
    """
    key = f"{name}:{'all' if scope is None else scope}"
    if history:
        return caching.cached("dashboard", key, compute, ttl=HISTORY_SECONDS, generation_of=HISTORY_GENERATION)
    return caching.cached("dashboard", key, compute, ttl=CACHE_SECONDS, generation_of=GENERATION)


def clear_dashboard_cache(*, history: bool = False) -> None:
    """Forget the cached dashboard figures (call it after the commit that changed them);
    ``history=True`` forgets the charts' past days too."""
    caching.bump(GENERATION, *((HISTORY_GENERATION,) if history else ()))


def _figures_changed(_app, **_payload) -> None:
    clear_dashboard_cache()


def _history_rewritten(_app, **_payload) -> None:
    clear_dashboard_cache(history=True)


def subscribe(app) -> None:
    """Clear the figures whenever ``app`` announces a change to what they count."""
    for signal in (events.institution_changed, events.transaction_decided, events.approval_decided,
                   events.customers_imported):
        events.subscribe(app, signal, _figures_changed)
    events.subscribe(app, events.demo_data_loaded, _history_rewritten)
