"""Who may use what: permissions per role, declared on every view.

Every view function carries exactly one declaration: :func:`public`, :func:`signed_in`
or :func:`requires`. A ``before_request`` hook enforces it and refuses any endpoint
that declares nothing (fail closed), so a route without a rule cannot be reached.
Object-level rules (institution admins see only their institution) are applied by
:func:`institution_scope`, the one scope rule, which takes an :class:`Actor` (routes build
it with ``actor_from_request()``), and :func:`ensure_visible` in queries and views.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from flask import Flask, abort, current_app, request
from flask_login import current_user

from app.access_rules import AccessRule, UndeclaredAccess, _declare, access_rule, public, signed_in
from app.extensions import login_manager
from app.security.actor import Actor
from app.security.roles import Role

__all__ = ["AccessRule", "Permission", "UndeclaredAccess", "access_rule", "api_token", "has_permission",
           "public", "requires", "signed_in"]


class Permission(enum.StrEnum):
    VIEW_PORTAL = "portal.view"            # the staff portal: dashboard and lists
    VIEW_ALL_INSTITUTIONS = "institutions.all"  # rows of every institution, not only one's own
    MANAGE_USERS = "users.manage"            # user administration (institution admins: their customers)
    MANAGE_USER_SECURITY = "users.security"  # others' sessions, two-factor reset and unlock
    IMPERSONATE = "users.impersonate"        # support access as an institution admin or customer
    MANAGE_INSTITUTIONS = "institutions.manage"  # create, edit, deactivate; assign institution admins
    MANAGE_CUSTOMERS = "customers.manage"  # edit and bulk-import customers (within one's scope)
    DECIDE = "decisions.make"  # approve or reject transactions and approval requests (within one's scope)
    MANAGE_SETTINGS = "settings.manage"  # the typed system settings
    VIEW_SYSTEM_STATUS = "system.status"  # security and health figures on the dashboard
    VIEW_AUDIT_LOG = "audit.view"  # the audit log (institution admins: their institution's entries)
    MANAGE_BACKUPS = "backups.manage"  # create, check, download and restore database backups
    MANAGE_API_TOKENS = "api_tokens.manage"  # other people's API tokens: make one for them, revoke
    MANAGE_PRIVACY = "privacy.manage"  # data-subject requests, records of processing
    VIEW_ANALYTICS = "analytics.view"  # the usage analytics and platform figures pages (superadmins only)
    USE_API = "api.use"  # hold personal API tokens (the API's endpoints then ask for their own permissions)


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SUPERADMIN: frozenset(Permission),
    Role.ADMIN: frozenset({
        Permission.VIEW_PORTAL, Permission.VIEW_ALL_INSTITUTIONS, Permission.MANAGE_USERS, Permission.IMPERSONATE,
        Permission.MANAGE_INSTITUTIONS, Permission.MANAGE_CUSTOMERS, Permission.DECIDE, Permission.VIEW_AUDIT_LOG,
        Permission.USE_API,
    }),
    Role.INSTITUTION_ADMIN: frozenset({
        Permission.VIEW_PORTAL, Permission.MANAGE_USERS, Permission.MANAGE_CUSTOMERS, Permission.DECIDE,
        Permission.VIEW_AUDIT_LOG,  # their institution's entries only
        Permission.USE_API,
    }),
    Role.CUSTOMER: frozenset(),
    # Least privilege (docs/PRIVACY.md): the privacy pages, and the audit log of every
    # institution to answer and investigate; no lists, decisions or administration.
    Role.PRIVACY_OFFICER: frozenset({
        Permission.MANAGE_PRIVACY, Permission.VIEW_AUDIT_LOG, Permission.VIEW_ALL_INSTITUTIONS,
        Permission.USE_API,  # the requests and the audit log through the API, nothing more
    }),
}


def requires(*permissions: Permission) -> Callable[[Callable], Callable]:
    """Only users whose role grants every one of ``permissions`` may use this view."""

    def decorator(view: Callable) -> Callable:
        return _declare(view, AccessRule("permission", frozenset(permissions)))

    return decorator


def api_token(scope: str, *permissions: Permission) -> Callable[[Callable], Callable]:
    """JSON API views: a bearer token with ``scope`` whose user holds every one of ``permissions``.

    Sessions play no part: app.api.auth checks the token (the session check here lets it pass).
    """

    def decorator(view: Callable) -> Callable:
        return _declare(view, AccessRule("token", frozenset(permissions), scope))

    return decorator


def has_permission(user, permission: Permission) -> bool:
    """True when ``user`` is signed in, active, and their role grants ``permission``."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return permission in ROLE_PERMISSIONS[Role(user.role)]


def institution_scope(actor: Actor) -> int | None:
    """The one institution the actor may see and act on, or ``None`` for every institution.

    System actors (CLI commands, jobs) carry no role and are not limited to one institution.
    """
    if actor.role is None:
        return None
    if Permission.VIEW_ALL_INSTITUTIONS in ROLE_PERMISSIONS[Role(actor.role)]:
        return None
    return actor.institution_id


def ensure_visible(actor: Actor, institution_id: int | None) -> None:
    """404 (not 403: do not confirm the row exists) when the row is outside the actor's scope."""
    scope = institution_scope(actor)
    if scope is not None and institution_id != scope:
        abort(404)


def _enforce() -> None:
    if request.endpoint is None:
        return  # no route matched: the 404/405 handlers answer
    view = current_app.view_functions.get(request.endpoint)
    rule = access_rule(view)
    if rule is None:
        raise UndeclaredAccess(f"endpoint {request.endpoint!r} declares no access rule")
    if rule.kind in ("public", "token"):
        return
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if rule.kind == "permission" and not all(has_permission(current_user, p) for p in rule.permissions):
        abort(403)


@public
def _static_files(filename: str):
    return current_app.send_static_file(filename)


@public
def _favicon():
    """Browsers ask for /favicon.ico on any page (even JSON ones): answer it instead of a 404."""
    return current_app.send_static_file("favicon.ico")


def init_app(app: Flask) -> None:
    """Enforce declarations on every request; declare Flask's own static route public."""
    app.before_request(_enforce)
    app.context_processor(lambda: {"can": lambda name: has_permission(current_user, Permission(name))})
    if "static" in app.view_functions:
        app.view_functions["static"] = _static_files
        app.add_url_rule("/favicon.ico", "favicon", _favicon)
