"""When notifications go out: event subscribers, and the scan for approvals waiting too long.

Subscribers (registered in ``app.push.init_app``) run after the commit that made the event
true and enqueue the ``push.notify`` job; they read nothing but ids. Who is told:

- a new sign-in, a new second factor: the account's owner;
- a backup, verification or restore drill failed; the audit chain is broken: everyone who
  manages backups or sees the system status (superadmins);
- an approval waiting longer than the ``push_approval_waiting_hours`` setting: everyone who
  may decide it (its institution's admins, admins, superadmins), except whoever asked; once
  per approval (``flask push approvals-waiting``, run from cron).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import String, cast, or_, select

from app import events
from app.database import utcnow
from app.extensions import db
from app.platform.models import Approval, DecisionStatus
from app.push import services
from app.push.models import PushNotice
from app.security.access import Permission
from app.settings import services as settings
from app.users.models import User

APPROVAL_WAITING = "approval_waiting"


def on_sign_in(_app: Flask, user_id: int, method: str = "password", **_payload) -> None:
    services.notify("new_sign_in", user_ids=[user_id], after_commit=False, method=method)


def on_second_factor(_app: Flask, user_id: int, method: str = "totp", **_payload) -> None:
    services.notify("second_factor_added", user_ids=[user_id], after_commit=False, method=method)


def on_backup_failed(_app: Flask, backup_id: str, stage: str = "backup", **_payload) -> None:
    services.notify("backup_failed", permission=Permission.MANAGE_BACKUPS, after_commit=False, backup_id=backup_id,
                    stage=stage)


def on_audit_chain_broken(_app: Flask, entry_id: int | None = None, **_payload) -> None:
    services.notify("audit_chain_broken", permission=Permission.VIEW_SYSTEM_STATUS, after_commit=False,
                    entry_id=entry_id)


def subscribe_all(app: Flask) -> None:
    events.subscribe(app, events.signed_in, on_sign_in)
    events.subscribe(app, events.second_factor_added, on_second_factor)
    events.subscribe(app, events.backup_failed, on_backup_failed)
    events.subscribe(app, events.audit_chain_broken, on_audit_chain_broken)


def deciders_of(approval: Approval) -> list[int]:
    """Active accounts that may decide ``approval``, except the person who asked for it."""
    everywhere = [role for role in services.roles_with(Permission.DECIDE)
                  if role in services.roles_with(Permission.VIEW_ALL_INSTITUTIONS)]
    scoped = [role for role in services.roles_with(Permission.DECIDE) if role not in everywhere]
    query = select(User.id).where(User.is_active_account.is_(True), or_(
        User.role.in_(everywhere), User.role.in_(scoped) & (User.institution_id == approval.institution_id)))
    if approval.requested_by_id is not None:
        query = query.where(User.id != approval.requested_by_id)
    return list(db.session.scalars(query.order_by(User.id)))


def notify_approvals_waiting(now=None) -> list[int]:
    """Notify the deciders of every pending approval older than the setting, once per approval.

    Returns the ids of the approvals noticed now (the caller commits; jobs start on commit).
    """
    hours = settings.get("push_approval_waiting_hours")
    cutoff = (now or utcnow()) - timedelta(hours=hours)
    noticed = select(PushNotice.id).where(PushNotice.kind == APPROVAL_WAITING,
                                          PushNotice.ref == cast(Approval.id, String)).exists()
    waiting = db.session.scalars(select(Approval).where(
        Approval.status == DecisionStatus.PENDING.value, Approval.requested_at <= cutoff, ~noticed)
        .order_by(Approval.id)).all()
    for approval in waiting:
        db.session.add(PushNotice(kind=APPROVAL_WAITING, ref=str(approval.id)))
        services.notify(APPROVAL_WAITING, user_ids=deciders_of(approval), approval_id=approval.id, hours=hours)
    return [approval.id for approval in waiting]
