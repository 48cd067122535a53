"""Cached JSON API reads, and the helper that invalidates them.

A read is cached per *visibility* (the caller's institution scope, or every
institution), never per token or person: two callers who may see the same rows share
an entry, and nobody is served another scope's rows. Each resource has a generation,
cleared after the commit of a change the services announce (decisions, institution
changes: app.events; :func:`subscribe`, from the API's init_app). Entries live ``CACHE_SECONDS`` at most, which bounds
what a change made elsewhere (an import, the CLI) can leave behind.
"""

from __future__ import annotations

import functools
import hashlib
import json

from flask import current_app, request

from app import caching, events

CACHE_SECONDS = 30
RESOURCES = ("institutions", "transactions", "approvals")


def _generation(resource: str) -> str:
    return f"api-{resource}"


def cached_read(resource: str, visibility):
    """Decorate an API GET view whose JSON body depends only on ``visibility()`` and the URL."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            query = sorted(request.args.items(multi=True))
            fingerprint = hashlib.sha256(json.dumps([request.endpoint, kwargs, query]).encode()).hexdigest()[:32]
            body = caching.cached("api", f"{resource}:{visibility()}:{fingerprint}",
                                  lambda: view(*args, **kwargs), ttl=CACHE_SECONDS,
                                  generation_of=_generation(resource))
            return current_app.json.response(body)

        return wrapper

    return decorator


def clear_api_reads(*resources: str) -> None:
    """Forget the cached API reads of these resources (all when none is named)."""
    caching.bump(*(_generation(r) for r in (resources or RESOURCES)))


def _institutions_changed(_app, **_payload) -> None:
    clear_api_reads("institutions")


def _transaction_decided(_app, **_payload) -> None:
    clear_api_reads("transactions")


def _approval_decided(_app, **_payload) -> None:
    clear_api_reads("approvals")


def _everything_changed(_app, **_payload) -> None:
    clear_api_reads()


def subscribe(app) -> None:
    """Forget the cached reads of a resource whenever ``app`` announces a change to it."""
    events.subscribe(app, events.institution_changed, _institutions_changed)
    events.subscribe(app, events.transaction_decided, _transaction_decided)
    events.subscribe(app, events.approval_decided, _approval_decided)
    events.subscribe(app, events.demo_data_loaded, _everything_changed)
