"""Signing in and out. Services never commit; the request boundary does.

Sign-in has two steps. :func:`check_password_step` proves the password and returns
the user; when the account has a second factor the caller asks for it
(app.auth.two_factor, app.auth.passkeys) before finishing with :func:`record_sign_in`. Failures all look alike
to the visitor, whether or not the account exists.
"""

from __future__ import annotations

import re

from app import events
from app.audit import services as audit
from app.audit.models import AuditAction, AuditResult
from app.database import utcnow
from app.observability import metrics
from app.security.actor import Actor
from app.security.passwords import hash_password, needs_rehash, verify_password
from app.security.ratelimits import SIGN_IN_ACCOUNT_THROTTLES, SIGN_IN_IP
from app.users.models import User
from app.users.services import find_by_email, normalise_email, update_bookkeeping

_LOOKS_LIKE_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}$")


class SignInFailed(Exception):
    """Wrong e-mail or password, or an inactive account (deliberately indistinguishable)."""


class SignInThrottled(Exception):
    """Too many failed attempts; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"try again in {retry_after} s")
        self.retry_after = retry_after


def _attempted_identity(email: str) -> str:
    # A password typed into the e-mail field must never reach the audit log.
    return email if _LOOKS_LIKE_EMAIL.match(email) else "(not an e-mail address)"


def check_password_step(actor: Actor, email: str, password: str) -> User:
    """Return the active user whose e-mail and password match.

    Raises :class:`SignInThrottled` when this account or address has failed too often,
    and :class:`SignInFailed` otherwise; both are audited.
    """
    email = normalise_email(email)
    retry_after = max(
        [t.retry_after(email) or 0 for t in SIGN_IN_ACCOUNT_THROTTLES]
        + [SIGN_IN_IP.retry_after(actor.ip or "unknown") or 0]
    )
    if retry_after:
        audit.log(actor, AuditAction.LOGIN_THROTTLED, result=AuditResult.FAILURE,
                  resource_type="user", resource_repr=_attempted_identity(email),
                  description=f"Sign-in refused without checking: throttled for {retry_after} s")
        metrics.SIGN_INS.labels("throttled").inc()
        raise SignInThrottled(retry_after)

    user = find_by_email(email)
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or not user.is_active:
        for throttle in SIGN_IN_ACCOUNT_THROTTLES:
            throttle.record_failure(email)
        SIGN_IN_IP.record_failure(actor.ip or "unknown")
        reason = ("unknown e-mail" if user is None
                  else "wrong password" if not password_ok else "account deactivated")
        failure_actor = Actor(user_id=user.id if user else None, email=_attempted_identity(email),
                              ip=actor.ip, user_agent=actor.user_agent, request_id=actor.request_id)
        if user is not None:
            audit.log(failure_actor, AuditAction.LOGIN_FAILURE, resource=user,
                      result=AuditResult.FAILURE, description=f"Sign-in failed: {reason}")
        else:
            audit.log(failure_actor, AuditAction.LOGIN_FAILURE, result=AuditResult.FAILURE,
                      resource_type="user", resource_repr=_attempted_identity(email),
                      description=f"Sign-in failed: {reason}")
        metrics.SIGN_INS.labels("failure").inc()
        raise SignInFailed()

    for throttle in SIGN_IN_ACCOUNT_THROTTLES:
        throttle.clear(email)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


SIGN_IN_METHODS = {
    "password": "Signed in",
    "totp": "Signed in with password and authenticator app",
    "backup_code": "Signed in with password and a backup code",
    "passkey": "Signed in with password and a passkey",
}


def record_sign_in(actor: Actor, user: User, method: str = "password") -> None:
    """Note a completed sign-in on the account and in the audit log.

    ``method`` names the second factor used ("totp", "backup_code", "passkey"), if any.
    """
    # Signing in is not an edit of the account, so it must not bump the version.
    update_bookkeeping(user, last_sign_in_at=utcnow())
    audit.log(actor, AuditAction.LOGIN_SUCCESS, resource=user, description=SIGN_IN_METHODS[method])
    metrics.SIGN_INS.labels("success").inc()
    events.announce(events.signed_in, user_id=user.id, method=method)


def record_sign_out(actor: Actor, user: User) -> None:
    """Note a sign-out in the audit log."""
    audit.log(actor, AuditAction.LOGOUT, resource=user, description="Signed out")


def confirm_identity(actor: Actor, user: User, password: str) -> None:
    """Step-up: check the signed-in user's password again (audited STEP_UP).

    Failures count towards the account's sign-in throttle. Raises SignInThrottled or
    SignInFailed.
    """
    retry_after = max(t.retry_after(user.email) or 0 for t in SIGN_IN_ACCOUNT_THROTTLES)
    if retry_after:
        raise SignInThrottled(retry_after)
    if not verify_password(user.password_hash, password):
        for throttle in SIGN_IN_ACCOUNT_THROTTLES:
            throttle.record_failure(user.email)
        audit.log(actor, AuditAction.STEP_UP, resource=user, result=AuditResult.FAILURE,
                  description="Re-authentication failed: wrong password")
        raise SignInFailed()
    audit.log(actor, AuditAction.STEP_UP, resource=user, description="Re-authenticated with password")


def record_step_up(actor: Actor, user: User, method: str) -> None:
    """Note a successful re-authentication with a second factor (audited STEP_UP)."""
    audit.log(actor, AuditAction.STEP_UP, resource=user, description=f"Re-authenticated with {method}")
