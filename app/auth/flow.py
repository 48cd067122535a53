"""Request glue of the sign-in flow, shared by the auth routes.

After the password step a *pending* sign-in waits in the (server-side) session for the
second factor; only then is the user signed in, under a new session id. WebAuthn
challenges wait in the session too, one at a time, for two minutes.
"""

from __future__ import annotations

import base64
import time
from urllib.parse import urlsplit

from flask import current_app, redirect, request, session, url_for
from flask_login import login_user

from app.auth import policy
from app.auth import services as auth
from app.auth.passkeys import RelyingParty
from app.extensions import db
from app.inputs import safe_next_url
from app.security.access import Permission, has_permission
from app.security.actor import actor_from_request
from app.security.stepup import mark_stepped_up
from app.users.models import User

PENDING_KEY = "pending_sign_in"
PENDING_LIFETIME = 10 * 60
CHALLENGE_KEY = "webauthn_challenge"
CHALLENGE_LIFETIME = 120
# Kept across sign-in; everything else in the anonymous session is dropped.
_CARRIED_OVER = ("lang",)


def start_fresh_session() -> None:
    """Drop everything in the session but the language, under a new id.

    The old id is deleted on the server, so a copy of the old cookie opens nothing.
    """
    carried = {k: session[k] for k in _CARRIED_OVER if k in session}
    session.clear()
    session.update(carried)
    session.regenerate()


def home_for(user) -> str:
    """Where a user lands: the dashboard for staff who see it, the privacy requests for a
    privacy officer, their account page for customers."""
    if has_permission(user, Permission.VIEW_PORTAL):
        return url_for("dashboard.index")
    if has_permission(user, Permission.MANAGE_PRIVACY):
        return url_for("privacy.requests")
    return url_for("auth.account")


def begin_pending(user: User, next_url: str | None) -> None:
    """Remember a user who passed the password step and now owes a second factor."""
    start_fresh_session()
    session[PENDING_KEY] = {"user_id": user.id, "since": time.time(), "next": next_url or ""}


def pending_user() -> User | None:
    """The user of the pending sign-in, while it is fresh and the account active."""
    data = session.get(PENDING_KEY)
    if not data or time.time() - data.get("since", 0) > PENDING_LIFETIME:
        return None
    user = db.session.get(User, data.get("user_id"))
    return user if user is not None and user.is_active else None


def pending_next() -> str:
    return (session.get(PENDING_KEY) or {}).get("next", "")


def complete_sign_in(user: User, next_url: str | None, method: str = "password"):
    """Sign ``user`` in under a new session id and send them on (to enrolment if the policy says so)."""
    start_fresh_session()
    login_user(user)
    auth.record_sign_in(actor_from_request(user), user, method)
    if method != "password":
        mark_stepped_up()  # a second factor just now is a fresh proof of identity
    target = safe_next_url(next_url, home_for(user))
    status = policy.evaluate(user)
    if policy.should_lead_to_enrolment(user, status):
        return redirect(url_for("auth.two_factor_required", next=target))
    return redirect(target)


def relying_party() -> RelyingParty:
    """The WebAuthn relying party: PUBLIC_URL when configured, else the host of this request."""
    base = current_app.config.get("PUBLIC_URL") or request.host_url.rstrip("/")
    return RelyingParty(id=urlsplit(base).hostname or "localhost", origin=base)


def keep_challenge(purpose: str, challenge: bytes, user_id: int) -> None:
    session[CHALLENGE_KEY] = {"purpose": purpose, "user_id": user_id, "at": time.time(),
                              "challenge": base64.b64encode(challenge).decode()}


def take_challenge(purpose: str, user_id: int) -> bytes | None:
    """The challenge issued for ``purpose`` to ``user_id``, once and while fresh."""
    data = session.pop(CHALLENGE_KEY, None)
    if (not data or data.get("purpose") != purpose or data.get("user_id") != user_id
            or time.time() - data.get("at", 0) > CHALLENGE_LIFETIME):
        return None
    return base64.b64decode(data["challenge"])
