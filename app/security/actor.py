"""Who is acting, and from where: what services receive instead of reading ``request``.

The Actor is the one subject of permission and scope: services decide on its role,
institution and id (app.security.access.institution_scope) and never need the User row
of the person acting.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, has_request_context, request
from flask_login import current_user

from app.security.roles import Role


@dataclass(frozen=True)
class Actor:
    """The person (or system process) on whose behalf a service acts."""

    user_id: int | None
    email: str
    role: str | None = None
    institution_id: int | None = None
    impersonator_id: int | None = None
    impersonator_email: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    display_name: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """An actor for CLI commands and scheduled jobs (no user, no request)."""
        return cls(user_id=None, email=name, role=None)

    @classmethod
    def for_user(cls, user, **request_fields) -> Actor:
        return cls(
            user_id=user.id,
            email=user.email,
            role=user.role,
            institution_id=user.institution_id,
            display_name=user.display_name,
            **request_fields,
        )

    @property
    def is_system(self) -> bool:
        return self.user_id is None

    @property
    def role_enum(self) -> Role | None:
        """The actor's role, or None for system actors and anonymous visitors."""
        return Role(self.role) if self.role else None

    @property
    def name(self) -> str:
        """How people see the actor named (in mails): the display name, else the address."""
        return self.display_name or self.email


def request_fields() -> dict:
    """IP, user agent and request id of the current request (empty outside requests)."""
    if not has_request_context():
        return {}
    return {
        "ip": request.remote_addr,
        "user_agent": (request.user_agent.string or "")[:300] or None,
        "request_id": g.get("request_id"),
    }


def actor_from_request(user=None) -> Actor:
    """The Actor for the current request: the signed-in user, or an anonymous visitor.

    During support impersonation the actor is the impersonated user and carries the
    impersonator too (set on ``g.impersonation`` by app.users.impersonation_guard).
    """
    user = user if user is not None else current_user
    if user is not None and getattr(user, "is_authenticated", False):
        impersonation = g.get("impersonation") if has_request_context() else None
        if impersonation and impersonation.get("target_id") == user.id:
            return Actor.for_user(user, impersonator_id=impersonation["impersonator_id"],
                                  impersonator_email=impersonation["impersonator_email"], **request_fields())
        return Actor.for_user(user, **request_fields())
    return Actor(user_id=None, email="anonymous", **request_fields())
