"""Support impersonation: a superadmin or admin sees the portal as a customer or an
institution admin, for a stated reason and a limited time.

Never an admin or superadmin, never nested, read-only unless changes were allowed at
the start. Start and end are audited; while it lasts, every audit entry carries both
the impersonated user (actor) and the impersonator. The request-side glue (session,
banner, read-only guard) is in :mod:`app.users.impersonation_guard`.
"""

from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import utcnow
from app.extensions import db
from app.security.actor import Actor
from app.users.models import Impersonation, Role, User
from app.users.services import UserError

IMPERSONATORS = frozenset({Role.SUPERADMIN, Role.ADMIN})
IMPERSONABLE = frozenset({Role.INSTITUTION_ADMIN, Role.CUSTOMER})
MAX_REASON = 500


class ImpersonationRefused(UserError):
    """Impersonation may not start (wrong roles, nesting, inactive account, no reason)."""


def can_impersonate(actor: Actor, target: User) -> bool:
    """True when ``actor`` may start impersonating ``target`` (reason and step-up aside)."""
    return (actor.role_enum in IMPERSONATORS and target.role_enum in IMPERSONABLE
            and target.is_active and target.id != actor.user_id)


def start(actor: Actor, target: User, *, reason: str, allow_changes: bool,
          limit_seconds: int, already_impersonating: bool) -> Impersonation:
    """Record the start of an impersonation (audited IMPERSONATION_START) and return it.

    Raises ImpersonationRefused.
    """
    if already_impersonating:
        raise ImpersonationRefused("stop the current impersonation first: impersonations do not nest")
    if actor.role_enum not in IMPERSONATORS:
        raise ImpersonationRefused("only superadmins and admins may impersonate")
    if target.role_enum not in IMPERSONABLE:
        raise ImpersonationRefused("only institution admins and customers can be impersonated")
    if not target.is_active or target.id == actor.user_id:
        raise ImpersonationRefused("this account cannot be impersonated")
    reason = " ".join(reason.split())
    if not reason:
        raise ImpersonationRefused("a reason is required")
    now = utcnow()
    record = Impersonation(impersonator_id=actor.user_id, impersonator_email=actor.email, target_id=target.id,
                           reason=reason[:MAX_REASON], allow_changes=bool(allow_changes), started_at=now,
                           expires_at=now + timedelta(seconds=int(limit_seconds)))
    db.session.add(record)
    db.session.flush()
    mode = "changes allowed" if allow_changes else "read-only"
    audit.log(actor, AuditAction.IMPERSONATION_START, resource=target,
              description=f"{actor.email} started impersonating {target.email} ({mode}, "
                          f"until {record.expires_at:%Y-%m-%d %H:%M:%S} UTC). Reason: {record.reason}",
              changes={"impersonation": {"id": record.id, "allow_changes": record.allow_changes,
                                         "reason": record.reason}})
    return record


END_REASONS = ("stopped", "expired", "signed out", "account unavailable")
# How people read an end reason ("time limit" is what expiries were called before "expired").
END_REASON_LABELS = {"stopped": _l("stopped"), "expired": _l("time limit reached"),
                     "time limit": _l("time limit reached"), "signed out": _l("signed out"),
                     "account unavailable": _l("account unavailable")}


def end(actor: Actor, record: Impersonation, reason: str) -> bool:
    """Close an impersonation (audited IMPERSONATION_END); False when it had already ended.

    An expired one ends at its deadline (not when the expiry was noticed). The close is a
    conditional UPDATE, so a request and the cleanup command never both end (and audit) it.
    """
    reason = reason if reason in END_REASONS else "stopped"
    now = utcnow()
    ended_at = min(now, record.expires_at) if reason == "expired" else now
    claimed = db.session.execute(
        update(Impersonation).where(Impersonation.id == record.id, Impersonation.ended_at.is_(None))
        .values(ended_at=ended_at, end_reason=reason).execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        db.session.refresh(record, ["ended_at", "end_reason"])
        return False
    record.ended_at, record.end_reason = ended_at, reason
    db.session.flush()
    audit.log(actor, AuditAction.IMPERSONATION_END, resource=record.target,
              description=f"{record.impersonator_email} stopped impersonating {record.target.email} "
                          f"({record.end_reason})",
              changes={"impersonation": {"id": record.id, "ended": record.end_reason}})
    return True


def end_expired(actor: Actor) -> int:
    """Close every impersonation whose time ran out while nobody came back to stop it (each
    audited IMPERSONATION_END, reason "expired"); returns how many. For the scheduled cleanup."""
    expired = db.session.scalars(
        select(Impersonation).where(Impersonation.ended_at.is_(None), Impersonation.expires_at <= utcnow())
        .order_by(Impersonation.id))
    return sum(end(actor, record, "expired") for record in list(expired))


def find(record_id: int) -> Impersonation | None:
    return db.session.get(Impersonation, record_id)


def history_for(user: User, limit: int = 20) -> list[Impersonation]:
    """The newest impersonations of ``user``: what their account page shows them."""
    return list(db.session.scalars(select(Impersonation).where(Impersonation.target_id == user.id)
                                   .order_by(Impersonation.started_at.desc(), Impersonation.id.desc()).limit(limit)))
