"""Impersonation in the request: whose portal is shown, the time limit, the read-only rule.

The session keeps the impersonator signed in (``_user_id``) and notes the impersonation;
:func:`effective_user` (called by the user loader) then presents the impersonated user
as ``current_user`` until the time limit, and puts both people in ``g.impersonation``
for the audit actor and the banner. :func:`enforce` ends an expired impersonation and
refuses state-changing requests of a read-only one.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.audit import services as audit
from app.audit.models import AuditAction, AuditResult
from app.extensions import db
from app.security.actor import Actor, actor_from_request, request_fields
from app.users import impersonation
from app.users.models import Impersonation, User

SESSION_KEY = "impersonation"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Requests a read-only impersonation still allows: leaving it, signing out, the language.
ALWAYS_ALLOWED = frozenset({"users.stop_impersonation", "auth.logout", "i18n.switch_language", "static"})


def effective_user(user: User) -> User:
    """The impersonated user while ``user`` has a live impersonation in this session, else ``user``."""
    data = session.get(SESSION_KEY)
    if not data or data.get("impersonator_id") != user.id or time.time() >= data.get("deadline", 0):
        return user
    target = db.session.get(User, data.get("target_id"))
    if target is None or not target.is_active:
        return user
    g.impersonation = {**data, "impersonator_email": user.email, "impersonator_name": user.display_name,
                       "target_name": target.display_name, "target_email": target.email}
    return target


def current() -> dict | None:
    """The live impersonation of this request (both people, mode, deadline), if any."""
    return g.get("impersonation")


def is_active_in_session() -> bool:
    return bool(session.get(SESSION_KEY))


def begin(record: Impersonation) -> None:
    """Note a started impersonation in the session (under a new session id)."""
    session[SESSION_KEY] = {
        "record_id": record.id, "impersonator_id": record.impersonator_id, "target_id": record.target_id,
        "allow_changes": record.allow_changes, "deadline": record.expires_at.timestamp(),
    }
    session.regenerate()


def _impersonator_actor(data: dict) -> Actor:
    user = db.session.get(User, data.get("impersonator_id"))
    if user is None:
        return Actor(user_id=data.get("impersonator_id"), email="(deleted user)", **request_fields())
    return Actor.for_user(user, **request_fields())


def finish(reason: str) -> int | None:
    """End the session's impersonation (audited) and return the impersonated user's id."""
    data = session.pop(SESSION_KEY, None)
    if not data:
        return None
    session.regenerate()
    record = impersonation.find(data.get("record_id"))
    if record is not None:
        impersonation.end(_impersonator_actor(data), record, reason)
    g.pop("impersonation", None)
    return data.get("target_id")


def enforce():
    """Before each request: end an expired impersonation; refuse changes in a read-only one."""
    data = session.get(SESSION_KEY)
    if not data:
        return None
    live = current() if current_user.is_authenticated else None  # loading the user fills g
    if live is None:
        expired = time.time() >= data.get("deadline", 0)
        target_id = finish("expired" if expired else "account unavailable")
        if expired:
            flash(_("The impersonation reached its time limit and has ended."), "warning")
        else:
            flash(_("The impersonation has ended: the account is no longer available."), "warning")
        if current_user.is_authenticated and request.endpoint not in ALWAYS_ALLOWED:
            return redirect(url_for("users.detail", user_id=target_id))
        return None
    if request.method in SAFE_METHODS or request.endpoint in ALWAYS_ALLOWED or live.get("allow_changes"):
        return None
    audit.log(actor_from_request(), AuditAction.IMPERSONATION_REFUSED, result=AuditResult.FAILURE,
              resource_type="request", resource_repr=f"{request.method} {request.path}"[:300],
              description="Change refused: the impersonation is read-only")
    from app.errors import render_error

    return render_error(403, _("You are impersonating this user in read-only mode: changes are not allowed. "
                               "Stop the impersonation and start it again with changes allowed if you must "
                               "change something."), error_code="impersonation_read_only")


def banner_context() -> dict:
    live = current()
    if live:
        live = {**live, "ends_at": datetime.fromtimestamp(live["deadline"], UTC)}
    return {"impersonation": live}
