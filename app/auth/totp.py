"""Authenticator-app codes (TOTP, RFC 6238): enrolment, verification, removal.

A 30-second step and one step of drift either way. Each accepted code moves the
account's ``last_used_step`` forward with a conditional UPDATE, so a code (or an
earlier one) is accepted once, even by two workers at once. Wrong codes count in
:mod:`app.auth.two_factor`. Services never commit.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import segno
from markupsafe import Markup
from sqlalchemy import delete, or_, update

from app import events
from app.audit import services as audit
from app.audit.models import AuditAction, AuditResult
from app.auth import two_factor
from app.auth.backup_codes import generate_backup_codes
from app.auth.models import BackupCode, TotpCredential
from app.auth.two_factor import (
    CodeRejected,
    CodeReplayed,
    NotEnrolled,
    SecondFactorError,
    SecondFactorLocked,
    WouldLeaveNoSecondFactor,
    WrongPassword,
    backup_codes_left,
    has_second_factor,
    has_totp,
    passkey_count,
    totp_credential,
)
from app.database import utcnow
from app.extensions import db
from app.inputs import digits
from app.security.actor import Actor
from app.security.crypto import SecretUnreadable, decrypt, encrypt
from app.security.passwords import verify_password
from app.security.ratelimits import SECOND_FACTOR_SHORT
from app.users.models import User
from app.users.services import two_factor_required_for

ISSUER = "Saintara Admin"
TOTP_STEP = 30
TOTP_DRIFT = 1
TOTP_DIGITS = 6
PENDING_SECRET_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True)
class PendingSecret:
    """An authenticator-app secret offered for enrolment. Until a correct code confirms it, it
    lives only in the user's server-side session (encrypted there too): showing the set-up page
    writes nothing to the database."""

    user_id: int
    secret: str
    created_at: float  # epoch seconds

    @property
    def fresh(self) -> bool:
        return time.time() - self.created_at < PENDING_SECRET_LIFETIME.total_seconds()

    def to_session(self) -> dict:
        return {"user_id": self.user_id, "secret": encrypt(self.secret), "created_at": self.created_at}

    @classmethod
    def from_session(cls, value: object, user: User) -> PendingSecret | None:
        """The pending secret kept by :meth:`to_session` for ``user``; None when absent, for
        someone else, unreadable or stale."""
        if not isinstance(value, dict) or value.get("user_id") != user.id:
            return None
        try:
            pending = cls(user.id, decrypt(str(value["secret"])), float(value["created_at"]))
        except (KeyError, TypeError, ValueError, SecretUnreadable):
            return None
        return pending if pending.fresh else None


def begin_totp_enrolment(user: User, pending: PendingSecret | None = None) -> PendingSecret:
    """The secret for the user to scan: ``pending`` while it is fresh (a reload does not change
    the QR code mid-scan), else a new one. Writes nothing. Raises SecondFactorError when an
    authenticator app is already set up."""
    if has_totp(user):
        raise SecondFactorError("an authenticator app is already set up")
    if pending is not None and pending.user_id == user.id and pending.fresh:
        return pending
    return PendingSecret(user.id, pyotp.random_base32(), time.time())


def provisioning_uri(credential: TotpCredential | PendingSecret, user: User) -> str:
    return pyotp.TOTP(credential.secret, digits=TOTP_DIGITS, interval=TOTP_STEP).provisioning_uri(
        name=user.email, issuer_name=ISSUER)


def qr_code_svg(data: str) -> Markup:
    """The QR code of ``data`` as inline SVG markup (geometry only: no text, no style attribute)."""
    svg = segno.make(data, error="m").svg_inline(scale=5, border=4, dark="#000", light="#fff",
                                                 svgclass="qr-code", lineclass=None, omitsize=True)
    return Markup(svg)  # noqa: S704 (segno's own markup: path geometry, no user text)


def grouped_secret(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (within the allowed drift) whose code equals ``code``, else None."""
    code = "".join(code.split())
    if len(code) != TOTP_DIGITS or not digits(code):
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP)
    current = int((time.time() if now is None else now) // TOTP_STEP)
    for step in (current - TOTP_DRIFT, current, current + TOTP_DRIFT):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(actor: Actor, user: User, code: str, *, purpose: str, now: float | None = None) -> None:
    """Accept a current authenticator code once (sign-in, step-up, regeneration).

    Raises NotEnrolled, SecondFactorLocked, SecondFactorThrottled, CodeRejected or
    CodeReplayed; every refusal is audited.
    """
    credential = totp_credential(user)
    if credential is None or not credential.is_confirmed:
        raise NotEnrolled("no authenticator app")
    if user.two_factor_locked_at is not None:
        audit.log(actor, AuditAction.TWO_FACTOR_FAILURE, resource=user, result=AuditResult.FAILURE,
                  description=f"Authenticator code refused ({purpose}): codes are locked")
        raise SecondFactorLocked("authenticator codes are locked")
    two_factor.check_throttle(actor, user, purpose)
    step = matching_step(credential.secret, code, now)
    if step is None:
        two_factor.record_failure(actor, user, purpose, "authenticator code", counts_to_lock=True)
        raise CodeRejected("wrong code")
    claimed = db.session.execute(
        update(TotpCredential)
        .where(TotpCredential.id == credential.id,
               or_(TotpCredential.last_used_step.is_(None), TotpCredential.last_used_step < step))
        .values(last_used_step=step)
    ).rowcount
    if not claimed:
        SECOND_FACTOR_SHORT.record_failure(two_factor.failure_key(user))
        audit.log(actor, AuditAction.TWO_FACTOR_REPLAY, resource=user, result=AuditResult.FAILURE,
                  description=f"Authenticator code refused ({purpose}): it was already used")
        raise CodeReplayed("code already used")
    db.session.expire(credential, ["last_used_step"])
    two_factor.clear_failures(user)


def confirm_totp_enrolment(actor: Actor, user: User, pending: PendingSecret | None, code: str, *,
                           now: float | None = None) -> list[str] | None:
    """Store and activate the pending authenticator app with a correct code (audited
    TWO_FACTOR_ENABLE); the secret is encrypted at rest.

    Returns a fresh set of backup codes when the account had none. Raises NotEnrolled
    (nothing pending, or an app is already set up), SecondFactorThrottled or CodeRejected.
    """
    if pending is None or pending.user_id != user.id or has_totp(user):
        raise NotEnrolled("no pending authenticator app")
    two_factor.check_throttle(actor, user, "enrolment")
    step = matching_step(pending.secret, code, now)
    if step is None:
        two_factor.record_failure(actor, user, "enrolment", "authenticator code", counts_to_lock=False)
        raise CodeRejected("wrong code")
    credential = totp_credential(user)  # an unconfirmed row left by an earlier version is reused
    if credential is None:
        credential = TotpCredential(user_id=user.id)
        db.session.add(credential)
    credential.secret = pending.secret
    credential.created_at = credential.confirmed_at = utcnow()
    credential.last_used_step = step
    db.session.flush()
    two_factor.clear_failures(user)
    audit.log(actor, AuditAction.TWO_FACTOR_ENABLE, resource=user, description="Authenticator app set up",
              changes={"authenticator_app": {"before": False, "after": True}})
    events.announce(events.second_factor_added, user_id=user.id, method="totp")
    return generate_backup_codes(actor, user) if backup_codes_left(user) == 0 else None


def remove_totp(actor: Actor, user: User) -> None:
    """Remove the user's own authenticator app (audited). Raises WouldLeaveNoSecondFactor."""
    credential = totp_credential(user)
    if credential is None or not credential.is_confirmed:
        raise NotEnrolled("no authenticator app")
    if two_factor_required_for(user.role) and passkey_count(user) == 0:
        raise WouldLeaveNoSecondFactor("your role requires a second factor")
    db.session.delete(credential)
    db.session.flush()
    if not has_second_factor(user):
        db.session.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
    audit.log(actor, AuditAction.TWO_FACTOR_DISABLE, resource=user, description="Authenticator app removed",
              changes={"authenticator_app": {"before": True, "after": False}})



def regenerate_backup_codes(actor: Actor, user: User, password: str, code: str | None, *,
                            stepped_up_with_passkey: bool = False) -> list[str]:
    """New backup codes, proven by the password and a current authenticator code (or, for an
    account with only passkeys, a passkey step-up just now). Here rather than in
    :mod:`app.auth.backup_codes` because it verifies an authenticator code. Raises WrongPassword and the
    errors of :func:`verify_totp`."""
    if not has_second_factor(user):
        raise NotEnrolled("no second factor")
    if not verify_password(user.password_hash, password):
        audit.log(actor, AuditAction.BACKUP_CODES_GENERATE, resource=user, result=AuditResult.FAILURE,
                  description="Backup codes not regenerated: wrong password")
        raise WrongPassword("wrong password")
    if has_totp(user):
        verify_totp(actor, user, code or "", purpose="regenerate backup codes")
    elif not stepped_up_with_passkey:
        raise CodeRejected("a passkey confirmation is required")
    return generate_backup_codes(actor, user)
