"""Cached JSON API reads, and the helper that invalidates them.

A read is cached per *visibility* (the caller's institution scope, or every
institution), never per token or person: two callers who may see the same rows share
an entry, and nobody is served another scope's rows. Each resource has a generation;
the services that change it call :func:`clear_api_reads` after their commit
(decisions, institution changes). Entries live ``CACHE_SECONDS`` at most, which bounds
what a change made elsewhere (an import, the CLI) can leave behind.
"""

from __future__ import annotations

import functools
import hashlib
import json

from flask import current_app, request

from app import caching

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
