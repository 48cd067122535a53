"""How a view declares who may use it: :func:`public`, :func:`signed_in` (here) and the
permission and API-token rules built on them in app.security.access, which enforces every
declaration before the view runs. Foundation modules (health, metrics, language, jobs)
declare their views from here without reaching up into the security layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import request


@dataclass(frozen=True)
class AccessRule:
    kind: str  # "public", "signed_in", "permission" or "token"
    permissions: frozenset = frozenset()
    scope: str | None = None  # token rules: the API token scope needed ("read" or "write")

    def describe(self) -> str:
        if self.kind == "permission":
            return "requires " + ", ".join(sorted(p.value for p in self.permissions))
        if self.kind == "token":
            return f"API token ({self.scope}) " + ", ".join(sorted(p.value for p in self.permissions))
        return self.kind


_ATTR = "__access_rule__"


class UndeclaredAccess(RuntimeError):
    """A view was registered without an access declaration."""


def _declare(view: Callable, rule: AccessRule) -> Callable:
    if hasattr(view, _ATTR):
        raise UndeclaredAccess(f"{view.__qualname__} declares access twice")
    setattr(view, _ATTR, rule)
    return view


def public(view: Callable) -> Callable:
    """Anyone, signed in or not, may use this view."""
    return _declare(view, AccessRule("public"))


def signed_in(view: Callable) -> Callable:
    """Any signed-in user (customers included) may use this view."""
    return _declare(view, AccessRule("signed_in"))


def access_rule(view: Callable | None) -> AccessRule | None:
    """The declaration a view carries (None: it declares nothing and is refused)."""
    return getattr(view, _ATTR, None)


def same_origin_request() -> bool:
    """Whether the browser says this request comes from this site's own pages: ``Sec-Fetch-Site:
    same-origin``, or, from a browser that sends no fetch metadata, an ``Origin`` naming this
    host. For the CSRF-exempt endpoints that the portal's own scripts post to with
    ``navigator.sendBeacon`` or the Sentry SDK (which cannot add the CSRF header)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    return origin is not None and origin.rstrip("/") == request.host_url.rstrip("/")
