"""Second factors of an account: what it has, the wrong-code counters, the lock, recovery.

The authenticator app is in :mod:`app.auth.totp`, backup codes in
:mod:`app.auth.backup_codes` (both build on this module; passkeys in
:mod:`app.auth.passkeys`). Wrong codes count per account: five in five minutes pause
the account, and ten without a success lock authenticator codes until a backup code is
used or a superadmin unlocks them. Services never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_ngettext
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import delete, func, or_, select

from app.audit import services as audit
from app.audit.models import AuditAction, AuditResult
from app.auth.models import BackupCode, PasskeyCredential, TotpCredential
from app.database import utcnow
from app.extensions import db
from app.formatting import count
from app.observability.readings import Reading
from app.security.actor import Actor
from app.security.ratelimits import SECOND_FACTOR_LOCK, SECOND_FACTOR_SHORT
from app.security.sessions import end_sessions_for_user
from app.settings.services import get as setting
from app.users.models import User
from app.users.services import two_factor_required_for, update_bookkeeping

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


# -- wrong codes -------------------------------------------------------------------

def failure_key(user: User) -> str:
    """The key of ``user``'s wrong-code counters."""
    return f"user:{user.id}"


def check_throttle(actor: Actor, user: User, purpose: str) -> None:
    """Refuse (audited) while ``user`` is paused after wrong codes. Raises SecondFactorThrottled."""
    retry_after = SECOND_FACTOR_SHORT.retry_after(failure_key(user))
    if retry_after:
        audit.log(actor, AuditAction.TWO_FACTOR_FAILURE, resource=user, result=AuditResult.FAILURE,
                  description=f"Second factor refused without checking ({purpose}): throttled for {retry_after} s")
        raise SecondFactorThrottled(retry_after)


def record_failure(actor: Actor, user: User, purpose: str, what: str, *, counts_to_lock: bool) -> None:
    """Audit and count a wrong code; the tenth wrong authenticator code locks codes."""
    audit.log(actor, AuditAction.TWO_FACTOR_FAILURE, resource=user, result=AuditResult.FAILURE,
              description=f"Wrong {what} ({purpose})")
    SECOND_FACTOR_SHORT.record_failure(failure_key(user))
    if not counts_to_lock:
        return
    SECOND_FACTOR_LOCK.record_failure(failure_key(user))
    if SECOND_FACTOR_LOCK.retry_after(failure_key(user)):
        SECOND_FACTOR_LOCK.clear(failure_key(user))
        update_bookkeeping(user, two_factor_locked_at=utcnow())
        audit.log(actor, AuditAction.TWO_FACTOR_LOCK, resource=user,
                  description="Authenticator codes locked after repeated wrong codes",
                  changes={"two_factor_locked": {"before": False, "after": True}})
        raise SecondFactorLocked("authenticator codes are now locked")


def clear_failures(user: User) -> None:
    """Forget ``user``'s wrong codes (after a correct one, an unlock or a reset)."""
    SECOND_FACTOR_SHORT.clear(failure_key(user))
    SECOND_FACTOR_LOCK.clear(failure_key(user))


# -- lock and recovery -------------------------------------------------------------

def unlock_codes(actor: Actor, user: User, description: str) -> None:
    """Clear the lock on authenticator codes (audited TWO_FACTOR_UNLOCK, with ``description``)."""
    update_bookkeeping(user, two_factor_locked_at=None)
    audit.log(actor, AuditAction.TWO_FACTOR_UNLOCK, resource=user, description=description,
              changes={"two_factor_locked": {"before": True, "after": False}})


def unlock(actor: Actor, user: User) -> bool:
    """A superadmin clears the lock on a user's authenticator codes (audited); False if not locked."""
    if user.two_factor_locked_at is None:
        return False
    unlock_codes(actor, user, f"Authenticator codes of {user.email} unlocked by a superadmin")
    clear_failures(user)
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
    clear_failures(user)
    ended = end_sessions_for_user(user.id)
    audit.log(actor, AuditAction.TWO_FACTOR_RESET, resource=user,
              description=f"Two-factor reset for {user.email}: {reason}; {ended} session(s) ended",
              changes={"authenticator_app": {"before": before.has_totp, "after": False},
                       "security_keys": {"before": before.passkeys, "after": 0},
                       "recovery_codes_left": {"before": before.backup_codes_left, "after": 0}})
    return ended


def users_without_two_factor_reading():
    """Dashboard card: active users whose role requires two-factor but who have none."""
    required = setting("two_factor_required_roles")
    in_scope = select(func.count()).select_from(User).where(User.is_active_account, User.role.in_(required))
    missing = db.session.scalar(in_scope.where(~enabled_clause()))
    total = db.session.scalar(in_scope)
    of_total = lazy_ngettext("of %(total)s user whose role requires it",
                             "of %(total)s users whose role requires it", total, total=count(total))
    return Reading("ok" if missing == 0 else "warning", missing, of_total)


ADMIN_ROLES = ("superadmin", "admin")


def admins_with_two_factor() -> GaugeMetricFamily:
    """Prometheus gauge: share of active superadmins and admins with a second factor."""
    active_admins = select(User.id).where(User.role.in_(ADMIN_ROLES), User.is_active_account.is_(True))
    total = db.session.scalar(select(func.count()).select_from(active_admins.subquery())) or 0
    enabled = db.session.scalar(select(func.count()).select_from(
        active_admins.where(enabled_clause()).subquery())) or 0
    family = GaugeMetricFamily(
        "saintara_admins_two_factor_ratio",
        "Share of active superadmins and admins with a second factor (1 when there are none).")
    family.add_metric([], enabled / total if total else 1.0)
    return family
