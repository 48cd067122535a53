"""Services of the platform's domain. They take an Actor, never read ``request`` and never
commit; each change writes its own audit entry in the same transaction.

Shared here: the domain exceptions, the scope check that raises them (the scope itself is
app.security.access.institution_scope), and an object's recorded history (read from the
audit log).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.audit.models import AuditLog
from app.extensions import db
from app.personal_data import vault
from app.security.access import institution_scope
from app.security.actor import Actor


class PlatformError(Exception):
    """A refused operation; ``message`` is safe to show (a lazy, translated string)."""

    def __init__(self, message=None):
        super().__init__(str(message) if message is not None else self.__class__.__name__)
        self.message = message


class NotVisible(PlatformError):
    """The row is outside the actor's institution (shown as 404: its existence is not confirmed)."""


@dataclass(frozen=True)
class LastChange:
    actor_email: str
    at: datetime


class StaleEdit(PlatformError):
    """The row changed since the form was loaded; nothing was saved."""

    def __init__(self, last_change: LastChange | None):
        super().__init__("stale edit")
        self.last_change = last_change


def ensure_in_scope(actor: Actor, institution_id: int | None) -> None:
    """Raise NotVisible when ``institution_id`` is outside the actor's scope."""
    scope = institution_scope(actor)
    if scope is not None and institution_id != scope:
        raise NotVisible()


def history(resource_type: str, resource_id: int | str, limit: int = 20) -> list[AuditLog]:
    """The newest audit entries about one object (index on resource type, id and entry id)."""
    return list(db.session.scalars(
        select(AuditLog)
        .where(AuditLog.resource_type == resource_type, AuditLog.resource_id == str(resource_id))
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit)))


def last_change(resource_type: str, resource_id: int | str) -> LastChange | None:
    """Who last changed an object successfully, and when (for "changed by someone else" messages)."""
    row = db.session.execute(
        select(AuditLog.actor_email, AuditLog.created_at)
        .where(AuditLog.resource_type == resource_type, AuditLog.resource_id == str(resource_id),
               AuditLog.result == "success")
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(1)).first()
    return LastChange(vault.reveal(row.actor_email), row.created_at) if row else None


def check_version(row, expected_version: int | None, resource_type: str) -> None:
    """Refuse an edit made on an older version of ``row`` (optimistic concurrency)."""
    if expected_version is not None and row.version != expected_version:
        raise StaleEdit(last_change(resource_type, row.id))
