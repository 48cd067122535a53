"""Named actions and the milestones of an account's journey, recorded when the domain announces them.

The services that invite, decide, import and restore announce what happened
(app/events.py); the subscribers here record it for the acting account, under the same
rule as everything else (app.analytics.services.may_record). They run after the commit,
when the request's session can run no SQL, so each works on a session of its own.

Milestones carry ``seconds``: whole seconds since the account's previous milestone, read
from the portal's own data when the milestone is recorded, because visitor ids change every
day and cannot link the steps (docs/ANALYTICS.md, "Milestones"):

- ``invitation_accepted``: since the invitation link was made;
- ``two_factor_enrolled`` (the first second factor only): since the invitation was accepted,
  or the account was created when it was not invited;
- ``first_action`` (the account's first invitation sent, decision or import, judged by the
  audit log): since its first second factor, else since acceptance or creation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import events
from app.analytics import services
from app.analytics.catalogue import MAX_COUNT
from app.analytics.visitors import delete_salts_before, local_day
from app.audit.models import AuditAction, AuditLog
from app.auth.models import PasskeyCredential, TotpCredential
from app.database import utcnow
from app.extensions import db
from app.users.models import AccountToken, TokenPurpose, User

log = logging.getLogger(__name__)

WORK = {  # first_action's "action" -> the audit actions that count as it
    "invitation_sent": (AuditAction.INVITATION_SEND,),
    "approval_decided": (AuditAction.APPROVAL_APPROVE, AuditAction.APPROVAL_REJECT),
    "transaction_decided": (AuditAction.TRANSACTION_APPROVE, AuditAction.TRANSACTION_REJECT),
    "import_done": (AuditAction.CUSTOMER_BULK_IMPORT,),
}
WORK_AUDIT_ACTIONS = tuple(a.value for actions in WORK.values() for a in actions)


@contextmanager
def own_session() -> Iterator[Session]:
    """``db.session`` is a new session on the same bind inside the block (settings, consent and
    the queries below read through it), then the request's session again."""
    outer = db.session.registry()
    own = Session(bind=outer.get_bind())
    db.session.registry.set(own)
    try:
        yield own
    finally:
        own.close()
        db.session.registry.set(outer)


def seconds_between(earlier: datetime | None, later: datetime | None) -> int | None:
    """Whole seconds from ``earlier`` to ``later`` (0 when the clock went back; None when unknown)."""
    if earlier is None or later is None:
        return None
    return min(max(int((later - earlier).total_seconds()), 0), MAX_COUNT)


def _accepted_invitation(user_id: int) -> AccountToken | None:
    return db.session.scalar(select(AccountToken).where(
        AccountToken.user_id == user_id, AccountToken.purpose == TokenPurpose.INVITATION.value,
        AccountToken.used_at.is_not(None)).order_by(AccountToken.used_at.desc()).limit(1))


def joined_at(user: User) -> datetime:
    """When the account's journey in the portal began: invitation accepted, else created."""
    token = _accepted_invitation(user.id)
    return token.used_at if token is not None else user.created_at


def _second_factors(user_id: int) -> list[datetime]:
    apps = db.session.scalars(select(TotpCredential.confirmed_at).where(
        TotpCredential.user_id == user_id, TotpCredential.confirmed_at.is_not(None))).all()
    keys = db.session.scalars(select(PasskeyCredential.created_at).where(PasskeyCredential.user_id == user_id)).all()
    return sorted([*apps, *keys])


def _record(name: str, user: User | None, properties: dict | None = None) -> None:
    try:
        services.record(name, user=user, properties=properties)
    except Exception:  # analytics must never break the change that was announced
        log.exception("analytics: %s not recorded", name)


def _first_action(user: User | None, action: str) -> None:
    """Record ``first_action`` when the audit log holds exactly one piece of work by ``user``."""
    if user is None or not services.may_record(user):
        return
    done = db.session.scalar(select(func.count()).select_from(
        select(AuditLog.id).where(AuditLog.actor_id == user.id, AuditLog.action.in_(WORK_AUDIT_ACTIONS))
        .limit(2).subquery()))
    if done != 1:
        return
    factors = _second_factors(user.id)
    since = factors[0] if factors else joined_at(user)
    _record("first_action", user, {"seconds": seconds_between(since, utcnow()) or 0, "action": action})


def _action(name: str, actor_id: int | None, properties: dict | None = None) -> None:
    with own_session() as session:
        user = session.get(User, actor_id) if actor_id is not None else None
        _record(name, user, properties)
        _first_action(user, name)


def on_invitation_sent(_app: Flask, *, role: str, actor_id: int | None = None, **_payload) -> None:
    _action("invitation_sent", actor_id, {"role": role})


def on_approval_decided(_app: Flask, *, status: str, actor_id: int | None = None, **_payload) -> None:
    _action("approval_decided", actor_id, {"outcome": status})


def on_transaction_decided(_app: Flask, *, status: str, actor_id: int | None = None, **_payload) -> None:
    _action("transaction_decided", actor_id, {"outcome": status})


def on_customers_imported(_app: Flask, *, count: int, actor_id: int | None = None, **_payload) -> None:
    _action("import_done", actor_id, {"rows": count})


def on_invitation_accepted(_app: Flask, *, user_id: int, **_payload) -> None:
    with own_session() as session:
        user, token = session.get(User, user_id), _accepted_invitation(user_id)
        if user is not None and token is not None:
            _record("invitation_accepted", user, {"seconds": seconds_between(token.created_at, token.used_at)})


def on_second_factor_added(_app: Flask, *, user_id: int, method: str, **_payload) -> None:
    with own_session() as session:
        user = session.get(User, user_id)
        if user is not None and len(_second_factors(user_id)) == 1:  # the first one only
            _record("two_factor_enrolled", user,
                    {"seconds": seconds_between(joined_at(user), utcnow()) or 0, "method": method})


def on_backup_restored(_app: Flask, *, actor_id: int | None = None, **_payload) -> None:
    """A restored database may hold salts of past days again: delete them first."""
    with own_session() as session:
        delete_salts_before(local_day(utcnow()))
        session.commit()
        user = session.get(User, actor_id) if actor_id is not None else None
        _record("backup_restored", user)


def subscribe(app: Flask) -> None:
    """Subscribe the recorders above to ``app``'s domain events."""
    for signal, receiver in ((events.invitation_sent, on_invitation_sent),
                             (events.approval_decided, on_approval_decided),
                             (events.transaction_decided, on_transaction_decided),
                             (events.customers_imported, on_customers_imported),
                             (events.invitation_accepted, on_invitation_accepted),
                             (events.second_factor_added, on_second_factor_added),
                             (events.backup_restored, on_backup_restored),
                             (events.consent_changed, services.forget_consent)):
        events.subscribe(app, signal, receiver)
