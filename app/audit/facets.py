"""The choices offered by the filter form (actions, actors), cached in the shared cache.

Facets are read from the newest ``FACET_WINDOW`` entries the viewer may see (the actors: the
``MAX_ACTORS`` most active of them, shown sorted once revealed), so building
them costs the same at ten thousand or ten million entries. They are cached per scope
(all institutions, or one), never per user, and :func:`clear_facet_cache` (called after a
purge) makes every worker rebuild them. A cache outage only makes them slower.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace

from sqlalchemy import func, select

from app.audit.models import AuditAction, AuditLog
from app.extensions import cache, db
from app.personal_data import vault

FACET_WINDOW = 100_000
MAX_ACTORS = 100  # the most active: each is revealed (a key read and a decryption) on every view
CACHE_SECONDS = 300
_GENERATION_KEY = "audit:facets:generation"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Facets:
    actions: tuple[str, ...]
    actors: tuple[str, ...]
    resource_types: tuple[str, ...]


def _build(scope: int | None) -> Facets:
    recent = select(AuditLog.action, AuditLog.actor_email, AuditLog.resource_type)
    if scope is not None:
        recent = recent.where(AuditLog.institution_id == scope)
    recent = recent.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(FACET_WINDOW).subquery()
    actions = set(db.session.scalars(select(recent.c.action).distinct()))
    actors = db.session.scalars(
        select(recent.c.actor_email).group_by(recent.c.actor_email)
        .order_by(func.count().desc(), recent.c.actor_email).limit(MAX_ACTORS)).all()
    types = db.session.scalars(
        select(recent.c.resource_type).where(recent.c.resource_type.is_not(None)).distinct()).all()
    return Facets(tuple(sorted(actions | {a.value for a in AuditAction})), tuple(actors), tuple(sorted(types)))


def _cache_call(method: str, *args):
    try:
        return getattr(cache, method)(*args)
    except Exception:  # a cache outage must not take the audit pages down
        log.warning("cache unreachable for audit facets (%s)", method, exc_info=True)
        return None


def facets(scope: int | None) -> Facets:
    """Actions, actors and resource types to offer in the filter form (cached)."""
    generation = _cache_call("get", _GENERATION_KEY) or "0"
    key = f"audit:facets:v1:{generation}:{'all' if scope is None else scope}"
    cached = _cache_call("get", key)
    if not isinstance(cached, Facets):
        cached = _build(scope)
        _cache_call("set", key, cached, CACHE_SECONDS)
    # The cache holds actors as stored (sealed); they are revealed for this reader only.
    vault.expect(cached.actors)  # their keys in one query, not one each
    actors = sorted({vault.reveal(actor) for actor in cached.actors})
    return replace(cached, actors=tuple(actors))


def clear_facet_cache() -> None:
    """Forget every cached facet list (all scopes) by starting a new cache generation."""
    _cache_call("set", _GENERATION_KEY, uuid.uuid4().hex, 0)
