"""Facet lists: the choices of filter bars and form selects, cached per scope.

Every list page shows an institution select; its choices change only when an
institution is created, renamed or (de)activated, so they come from the shared cache
(app.caching). The institution service calls :func:`clear_facets` after such a commit.
Keys name a scope (every institution, or one), never a person.
"""

from __future__ import annotations

from sqlalchemy import select

from app import caching
from app.extensions import db
from app.platform.models import Institution

GENERATION = "facets"
CACHE_SECONDS = 300


def institution_choices(scope: int | None) -> list[tuple[int, str]]:
    """(id, "CODE · name") of the institutions in ``scope`` (None: all), by code."""

    def compute() -> list[tuple[int, str]]:
        query = select(Institution.id, Institution.code, Institution.name).order_by(Institution.code)
        if scope is not None:
            query = query.where(Institution.id == scope)
        return [(row.id, f"{row.code} · {row.name}") for row in db.session.execute(query)]

    return caching.cached("facets", f"institutions:{'all' if scope is None else scope}", compute,
                          ttl=CACHE_SECONDS, generation_of=GENERATION)


def institution_names() -> list[tuple[int, str]]:
    """Every institution as (id, name), by name (user administration's forms and filters)."""

    def compute() -> list[tuple[int, str]]:
        return [(row.id, row.name) for row in db.session.execute(
            select(Institution.id, Institution.name).order_by(Institution.name_order, Institution.id))]

    return caching.cached("facets", "institution-names", compute, ttl=CACHE_SECONDS, generation_of=GENERATION)


def clear_facets() -> None:
    """Forget the cached choices (call after the commit that created or changed an institution)."""
    caching.bump(GENERATION)
