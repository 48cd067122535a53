"""The append-only security audit log."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime
from app.extensions import db


class AuditAction(enum.StrEnum):
    """Every kind of recorded event. Extend as features arrive; never rename a value."""

    LOGIN_SUCCESS = "LOGIN_SUCCESS"
    LOGIN_FAILURE = "LOGIN_FAILURE"
    LOGIN_THROTTLED = "LOGIN_THROTTLED"
    LOGOUT = "LOGOUT"
    PASSWORD_CHANGE = "PASSWORD_CHANGE"  # noqa: S105 (an action name, not a password)
    STEP_UP = "STEP_UP"
    USER_CREATE = "USER_CREATE"
    USER_UPDATE = "USER_UPDATE"
    USER_DELETE = "USER_DELETE"
    INSTITUTION_CREATE = "INSTITUTION_CREATE"
    INSTITUTION_UPDATE = "INSTITUTION_UPDATE"
    INSTITUTION_ADMIN_ASSIGN = "INSTITUTION_ADMIN_ASSIGN"
    CUSTOMER_CREATE = "CUSTOMER_CREATE"
    CUSTOMER_UPDATE = "CUSTOMER_UPDATE"
    CUSTOMER_BULK_IMPORT = "CUSTOMER_BULK_IMPORT"
    TRANSACTION_CREATE = "TRANSACTION_CREATE"
    TRANSACTION_APPROVE = "TRANSACTION_APPROVE"
    TRANSACTION_REJECT = "TRANSACTION_REJECT"
    APPROVAL_REQUEST = "APPROVAL_REQUEST"
    APPROVAL_APPROVE = "APPROVAL_APPROVE"
    APPROVAL_REJECT = "APPROVAL_REJECT"
    SYSTEM_BACKUP = "SYSTEM_BACKUP"
    SYSTEM_RESTORE = "SYSTEM_RESTORE"
    BACKUP_VERIFY = "BACKUP_VERIFY"
    BACKUP_DRILL = "BACKUP_DRILL"
    BACKUP_DELETE = "BACKUP_DELETE"
    BACKUP_DOWNLOAD = "BACKUP_DOWNLOAD"
    SETTINGS_UPDATE = "SETTINGS_UPDATE"
    DEMO_DATA_LOAD = "DEMO_DATA_LOAD"
    # Identity and access (issue 4)
    TWO_FACTOR_ENABLE = "TWO_FACTOR_ENABLE"
    TWO_FACTOR_DISABLE = "TWO_FACTOR_DISABLE"
    TWO_FACTOR_FAILURE = "TWO_FACTOR_FAILURE"
    TWO_FACTOR_REPLAY = "TWO_FACTOR_REPLAY"
    TWO_FACTOR_LOCK = "TWO_FACTOR_LOCK"
    TWO_FACTOR_UNLOCK = "TWO_FACTOR_UNLOCK"
    TWO_FACTOR_RESET = "TWO_FACTOR_RESET"
    BACKUP_CODES_GENERATE = "BACKUP_CODES_GENERATE"
    BACKUP_CODE_USE = "BACKUP_CODE_USE"
    PASSKEY_REGISTER = "PASSKEY_REGISTER"
    PASSKEY_REMOVE = "PASSKEY_REMOVE"
    SESSION_END = "SESSION_END"
    INVITATION_SEND = "INVITATION_SEND"
    INVITATION_REVOKE = "INVITATION_REVOKE"
    INVITATION_ACCEPT = "INVITATION_ACCEPT"
    PASSWORD_RESET_REQUEST = "PASSWORD_RESET_REQUEST"  # noqa: S105 (action names)
    PASSWORD_RESET = "PASSWORD_RESET"  # noqa: S105
    USER_DEACTIVATE = "USER_DEACTIVATE"
    USER_REACTIVATE = "USER_REACTIVATE"
    IMPERSONATION_START = "IMPERSONATION_START"
    IMPERSONATION_END = "IMPERSONATION_END"
    IMPERSONATION_REFUSED = "IMPERSONATION_REFUSED"
    # Operations console (issue 6)
    INSTITUTION_ADMIN_REMOVE = "INSTITUTION_ADMIN_REMOVE"


class AuditResult(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


GENESIS_HASH = "0" * 64

# SQLite only auto-numbers an INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class AuditLog(db.Model):
    """One recorded event. Rows are chained: ``hash`` covers the row and ``prev_hash``.

    Actor and impersonator ids are deliberately not foreign keys: the history of a
    user outlives the user, and the copied e-mail keeps it readable.
    """

    __tablename__ = "audit_logs"
    __table_args__ = (
        CheckConstraint("result IN ('success', 'failure')", name="result_valid"),
        Index("ix_audit_logs_created_at", "created_at"),
        Index("ix_audit_logs_actor_id_id", "actor_id", "id"),
        Index("ix_audit_logs_action_id", "action", "id"),
        Index("ix_audit_logs_resource", "resource_type", "resource_id", "id"),
        Index("ix_audit_logs_institution_id_id", "institution_id", "id"),
        Index("ix_audit_logs_request_id", "request_id"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_email: Mapped[str] = mapped_column(String(254))
    impersonator_id: Mapped[int | None] = mapped_column(Integer)
    impersonator_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    resource_repr: Mapped[str | None] = mapped_column(String(300))
    institution_id: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    changes: Mapped[dict | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    request_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16), default=AuditResult.SUCCESS.value)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditLog {self.id} {self.action} {self.resource_type}:{self.resource_id}>"
