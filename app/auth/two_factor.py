"""Second factors: authenticator-app codes (TOTP), backup codes, the lock, and recovery.

TOTP follows RFC 6238 with a 30-second step and one step of drift either way. Each
accepted code moves the account's ``last_used_step`` forward with a conditional
UPDATE, so a code (or an earlier one) is accepted once, even by two workers at once.
Wrong codes count per account: five in five minutes pause the account, and ten
without a success lock authenticator codes until a backup code is used or a
superadmin unlocks them. Backup codes are high-entropy, single-use and stored only as
argon2id hashes. Services never commit.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from markupsafe import Markup
from sqlalchemy import delete, func, or_, select, update

from app.audit import services as audit
from app.audit.models import AuditAction, AuditResult
from app.auth.models import BackupCode, PasskeyCredential, TotpCredential
from app.database import utcnow
from app.extensions import db
from app.inputs import digits
from app.security.actor import Actor
from app.security.crypto import SecretUnreadable, decrypt, encrypt
from app.security.passwords import verify_password
from app.security.ratelimits import SECOND_FACTOR_LOCK, SECOND_FACTOR_SHORT
from app.security.sessions import end_sessions_for_user
from app.users.models import User
from app.users.services import two_factor_required_for, update_bookkeeping

ISSUER = "Saintara Admin"
TOTP_STEP = 30
TOTP_DRIFT = 1
TOTP_DIGITS = 6
PENDING_SECRET_LIFETIME = timedelta(minutes=15)
BACKUP_CODE_COUNT = 10
BACKUP_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud, typed by hand
BACKUP_CODE_LENGTH = 10  # 31^10: about 49 bits each
LOW_BACKUP_CODES = 4



class SecondFactorError(Exception):
    """A second-factor step was refused; the message is for logs, routes show their own."""


class NotEnrolled(SecondFactorError):
    pass


class CodeRejected(SecondFactorError):
    pass


class CodeReplayed(SecondFactorError):
    """A correct code that was already used (or an older one)."""


class SecondFactorLocked(SecondFactorError):
    """Authenticator codes are locked for this account."""


class SecondFactorThrottled(SecondFactorError):
    def __init__(self, retry_after: int):
        super().__init__(f"try again in {retry_after} s")
        self.retry_after = retry_after


class WouldLeaveNoSecondFactor(SecondFactorError):
    """The policy requires a second factor and this is the account's last one."""


class WrongPassword(SecondFactorError):
    pass


# -- what an account has ---------------------------------------------------------

def totp_credential(user: User) -> TotpCredential | None:
    return db.session.scalar(select(TotpCredential).where(TotpCredential.user_id == user.id))


def has_totp(user: User) -> bool:
    credential = totp_credential(user)
    return credential is not None and credential.is_confirmed


def passkey_count(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(PasskeyCredential)
                             .where(PasskeyCredential.user_id == user.id))


def has_second_factor(user: User) -> bool:
    """True when the account has a confirmed authenticator app or a passkey."""
    return has_totp(user) or passkey_count(user) > 0


def enabled_clause():
    """SQL condition "this user has a second factor" (for filters on the user list)."""
    return or_(
        select(TotpCredential.id).where(TotpCredential.user_id == User.id,
                                        TotpCredential.confirmed_at.is_not(None)).exists(),
        select(PasskeyCredential.id).where(PasskeyCredential.user_id == User.id).exists(),
    )


def enabled_user_ids(user_ids: list[int]) -> set[int]:
    """Which of ``user_ids`` have a second factor (one query for a page of users)."""
    if not user_ids:
        return set()
    totp = select(TotpCredential.user_id).where(TotpCredential.user_id.in_(user_ids),
                                                TotpCredential.confirmed_at.is_not(None))
    keys = select(PasskeyCredential.user_id).where(PasskeyCredential.user_id.in_(user_ids))
    return set(db.session.scalars(totp.union(keys)))


def backup_codes_left(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(BackupCode)
                             .where(BackupCode.user_id == user.id, BackupCode.used_at.is_(None)))


@dataclass(frozen=True)
class SecondFactorSummary:
    """What the account and user pages show about an account's second factors."""

    has_totp: bool
    passkeys: int
    backup_codes_left: int
    locked_at: datetime | None

    @property
    def enabled(self) -> bool:
        return self.has_totp or self.passkeys > 0

    @property
    def backup_codes_low(self) -> bool:
        return self.enabled and self.backup_codes_left < LOW_BACKUP_CODES


def summary(user: User) -> SecondFactorSummary:
    return SecondFactorSummary(has_totp(user), passkey_count(user), backup_codes_left(user),
                               user.two_factor_locked_at)


# -- authenticator app -----------------------------------------------------------

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


def _key(user: User) -> str:
    return f"user:{user.id}"


def _check_throttle(actor: Actor, user: User, purpose: str) -> None:
    retry_after = SECOND_FACTOR_SHORT.retry_after(_key(user))
    if retry_after:
        audit.log(actor, AuditAction.TWO_FACTOR_FAILURE, resource=user, result=AuditResult.FAILURE,
                  description=f"Second factor refused without checking ({purpose}): throttled for {retry_after} s")
        raise SecondFactorThrottled(retry_after)


def _record_failure(actor: Actor, user: User, purpose: str, what: str, *, counts_to_lock: bool) -> None:
    """Audit and count a wrong code; the tenth wrong authenticator code locks codes."""
    audit.log(actor, AuditAction.TWO_FACTOR_FAILURE, resource=user, result=AuditResult.FAILURE,
              description=f"Wrong {what} ({purpose})")
    SECOND_FACTOR_SHORT.record_failure(_key(user))
    if not counts_to_lock:
        return
    SECOND_FACTOR_LOCK.record_failure(_key(user))
    if SECOND_FACTOR_LOCK.retry_after(_key(user)):
        SECOND_FACTOR_LOCK.clear(_key(user))
        update_bookkeeping(user, two_factor_locked_at=utcnow())
        audit.log(actor, AuditAction.TWO_FACTOR_LOCK, resource=user,
                  description="Authenticator codes locked after repeated wrong codes",
                  changes={"two_factor_locked": {"before": False, "after": True}})
        raise SecondFactorLocked("authenticator codes are now locked")


def _clear_failures(user: User) -> None:
    SECOND_FACTOR_SHORT.clear(_key(user))
    SECOND_FACTOR_LOCK.clear(_key(user))


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
    _check_throttle(actor, user, purpose)
    step = matching_step(credential.secret, code, now)
    if step is None:
        _record_failure(actor, user, purpose, "authenticator code", counts_to_lock=True)
        raise CodeRejected("wrong code")
    claimed = db.session.execute(
        update(TotpCredential)
        .where(TotpCredential.id == credential.id,
               or_(TotpCredential.last_used_step.is_(None), TotpCredential.last_used_step < step))
        .values(last_used_step=step)
    ).rowcount
    if not claimed:
        SECOND_FACTOR_SHORT.record_failure(_key(user))
        audit.log(actor, AuditAction.TWO_FACTOR_REPLAY, resource=user, result=AuditResult.FAILURE,
                  description=f"Authenticator code refused ({purpose}): it was already used")
        raise CodeReplayed("code already used")
    db.session.expire(credential, ["last_used_step"])
    _clear_failures(user)


def confirm_totp_enrolment(actor: Actor, user: User, pending: PendingSecret | None, code: str, *,
                           now: float | None = None) -> list[str] | None:
    """Store and activate the pending authenticator app with a correct code (audited
    TWO_FACTOR_ENABLE); the secret is encrypted at rest.

    Returns a fresh set of backup codes when the account had none. Raises NotEnrolled
    (nothing pending, or an app is already set up), SecondFactorThrottled or CodeRejected.
    """
    if pending is None or pending.user_id != user.id or has_totp(user):
        raise NotEnrolled("no pending authenticator app")
    _check_throttle(actor, user, "enrolment")
    step = matching_step(pending.secret, code, now)
    if step is None:
        _record_failure(actor, user, "enrolment", "authenticator code", counts_to_lock=False)
        raise CodeRejected("wrong code")
    credential = totp_credential(user)  # an unconfirmed row left by an earlier version is reused
    if credential is None:
        credential = TotpCredential(user_id=user.id)
        db.session.add(credential)
    credential.secret = pending.secret
    credential.created_at = credential.confirmed_at = utcnow()
    credential.last_used_step = step
    db.session.flush()
    _clear_failures(user)
    audit.log(actor, AuditAction.TWO_FACTOR_ENABLE, resource=user, description="Authenticator app set up",
              changes={"authenticator_app": {"before": False, "after": True}})
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


# -- backup codes ------------------------------------------------------------------

@functools.cache
def _code_hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1, type=Type.ID)


def code_hasher() -> PasswordHasher:
    """argon2id at OWASP's minimum (19 MiB, 2 passes): enough for ~49-bit random codes,
    and cheap enough to try an account's ten codes in one request."""
    config = current_app.config
    return _code_hasher(min(2, config["ARGON2_TIME_COST"]), min(19 * 1024, config["ARGON2_MEMORY_COST"]))


def normalise_backup_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _new_code() -> str:
    return "".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))


def format_backup_code(code: str) -> str:
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def generate_backup_codes(actor: Actor, user: User) -> list[str]:
    """Void the old set and make ten new codes (audited); the plain codes are returned once."""
    db.session.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
    codes = [_new_code() for _ in range(BACKUP_CODE_COUNT)]
    hasher = code_hasher()
    now = utcnow()
    db.session.add_all(BackupCode(user_id=user.id, code_hash=hasher.hash(code), created_at=now) for code in codes)
    db.session.flush()
    audit.log(actor, AuditAction.BACKUP_CODES_GENERATE, resource=user,
              description=f"Generated {BACKUP_CODE_COUNT} backup codes; earlier codes no longer work")
    return [format_backup_code(code) for code in codes]


def regenerate_backup_codes(actor: Actor, user: User, password: str, code: str | None, *,
                            stepped_up_with_passkey: bool = False) -> list[str]:
    """New backup codes, proven by the password and a current authenticator code (or, for an
    account with only passkeys, a passkey step-up just now). Raises WrongPassword and the
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


def use_backup_code(actor: Actor, user: User, code: str, *, purpose: str) -> int:
    """Accept an unused backup code once (audited BACKUP_CODE_USE); returns how many are left.

    A backup code also clears a lock on authenticator codes. Raises SecondFactorThrottled
    or CodeRejected.
    """
    _check_throttle(actor, user, purpose)
    wanted = normalise_backup_code(code)
    hasher = code_hasher()
    unused = db.session.scalars(select(BackupCode).where(BackupCode.user_id == user.id,
                                                         BackupCode.used_at.is_(None))).all()
    match = None
    if len(wanted) == BACKUP_CODE_LENGTH:
        for candidate in unused:  # try all: the time taken does not tell which code matched
            try:
                if hasher.verify(candidate.code_hash, wanted) and match is None:
                    match = candidate
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                continue
    if match is None:
        _record_failure(actor, user, purpose, "backup code", counts_to_lock=False)
        raise CodeRejected("wrong backup code")
    claimed = db.session.execute(update(BackupCode).where(BackupCode.id == match.id, BackupCode.used_at.is_(None))
                                 .values(used_at=utcnow())).rowcount
    if not claimed:  # used by a parallel request a moment ago
        _record_failure(actor, user, purpose, "backup code (already used)", counts_to_lock=False)
        raise CodeRejected("backup code already used")
    left = len(unused) - 1
    audit.log(actor, AuditAction.BACKUP_CODE_USE, resource=user,
              description=f"Backup code used ({purpose}); {left} left")
    if user.two_factor_locked_at is not None:
        _unlock(actor, user, "Authenticator codes unlocked by a backup code")
    _clear_failures(user)
    return left


# -- lock and recovery -------------------------------------------------------------

def _unlock(actor: Actor, user: User, description: str) -> None:
    update_bookkeeping(user, two_factor_locked_at=None)
    audit.log(actor, AuditAction.TWO_FACTOR_UNLOCK, resource=user, description=description,
              changes={"two_factor_locked": {"before": True, "after": False}})


def unlock(actor: Actor, user: User) -> bool:
    """A superadmin clears the lock on a user's authenticator codes (audited); False if not locked."""
    if user.two_factor_locked_at is None:
        return False
    _unlock(actor, user, f"Authenticator codes of {user.email} unlocked by a superadmin")
    _clear_failures(user)
    return True


def reset_two_factor(actor: Actor, user: User, reason: str) -> int:
    """Recovery by a superadmin: remove every second factor and backup code of ``user``,
    clear the lock, restart the grace period and end all the user's sessions.

    Audited TWO_FACTOR_RESET with the reason; returns how many sessions ended.
    Raises SecondFactorError for one's own account or an empty reason.
    """
    reason = reason.strip()
    if not reason:
        raise SecondFactorError("a reason is required")
    if actor.user_id == user.id:
        raise SecondFactorError("reset your own second factors on your security page")
    before = summary(user)
    db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    db.session.execute(delete(PasskeyCredential).where(PasskeyCredential.user_id == user.id))
    db.session.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
    update_bookkeeping(user, two_factor_locked_at=None, two_factor_reminded_at=None,
                       two_factor_policy_since=utcnow() if two_factor_required_for(user.role) else None)
    _clear_failures(user)
    ended = end_sessions_for_user(user.id)
    audit.log(actor, AuditAction.TWO_FACTOR_RESET, resource=user,
              description=f"Two-factor reset for {user.email}: {reason}; {ended} session(s) ended",
              changes={"authenticator_app": {"before": before.has_totp, "after": False},
                       "security_keys": {"before": before.passkeys, "after": 0},
                       "recovery_codes_left": {"before": before.backup_codes_left, "after": 0}})
    return ended


def users_without_two_factor_reading():
    """Dashboard card: active users whose role requires two-factor but who have none."""
    from flask_babel import lazy_gettext as _l

    from app.dashboard.status import Reading
    from app.settings.services import get as setting

    required = setting("two_factor_required_roles")
    in_scope = select(func.count()).select_from(User).where(User.is_active_account, User.role.in_(required))
    missing = db.session.scalar(in_scope.where(~enabled_clause()))
    total = db.session.scalar(in_scope)
    return Reading("ok" if missing == 0 else "warning", missing,
                   _l("of %(total)d users whose role requires it", total=total))
