"""The append-only security audit log."""

from __future__ import annotations

import enum
import json
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

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
    # Identity and access: second factors, sessions, invitations, impersonation
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
    # Operations: institution admins, the audit log itself
    INSTITUTION_ADMIN_REMOVE = "INSTITUTION_ADMIN_REMOVE"
    AUDIT_EXPORT = "AUDIT_EXPORT"
    AUDIT_API_READ = "AUDIT_API_READ"  # the first pull of the hour through a token (app.audit.export)
    AUDIT_CHECKPOINT = "AUDIT_CHECKPOINT"
    AUDIT_PURGE = "AUDIT_PURGE"
    # The JSON API
    API_TOKEN_CREATE = "API_TOKEN_CREATE"  # noqa: S105 (action names)
    API_TOKEN_REVOKE = "API_TOKEN_REVOKE"  # noqa: S105
    # Personal data: sealing the entries written before it, erasure and its re-application after a restore
    AUDIT_REANCHOR = "AUDIT_REANCHOR"
    PRIVACY_ERASE = "PRIVACY_ERASE"
    PRIVACY_LEDGER_REAPPLY = "PRIVACY_LEDGER_REAPPLY"
    PRIVACY_HOLD = "PRIVACY_HOLD"
    PRIVACY_RETENTION = "PRIVACY_RETENTION"
    ANALYTICS_PURGE = "ANALYTICS_PURGE"  # app.analytics.rollup: raw events, rollups and salts past retention
    # Consent (app.consent): notices published, consent given and withdrawn
    CONSENT_NOTICE_PUBLISH = "CONSENT_NOTICE_PUBLISH"
    CONSENT_GRANT = "CONSENT_GRANT"
    CONSENT_WITHDRAW = "CONSENT_WITHDRAW"
    # Data-subject requests (app.privacy)
    PRIVACY_REQUEST_REGISTER = "PRIVACY_REQUEST_REGISTER"
    PRIVACY_VERIFICATION_SEND = "PRIVACY_VERIFICATION_SEND"
    PRIVACY_REQUEST_VERIFY = "PRIVACY_REQUEST_VERIFY"
    PRIVACY_REQUEST_EXTEND = "PRIVACY_REQUEST_EXTEND"
    PRIVACY_REQUEST_COMPLETE = "PRIVACY_REQUEST_COMPLETE"
    PRIVACY_REQUEST_REFUSE = "PRIVACY_REQUEST_REFUSE"
    PRIVACY_REQUEST_REMIND = "PRIVACY_REQUEST_REMIND"
    # Access and portability exports of one person (app.privacy.exports)
    PRIVACY_EXPORT_START = "PRIVACY_EXPORT_START"
    PRIVACY_EXPORT_FINISH = "PRIVACY_EXPORT_FINISH"
    PRIVACY_EXPORT_DOWNLOAD = "PRIVACY_EXPORT_DOWNLOAD"
    PRIVACY_EXPORT_DELETE = "PRIVACY_EXPORT_DELETE"
    # Web Push subscriptions of the installed portal (app.push)
    PUSH_SUBSCRIBE = "PUSH_SUBSCRIBE"
    PUSH_UNSUBSCRIBE = "PUSH_UNSUBSCRIBE"  # by its owner, or by the system when the push service says it is gone


class AuditResult(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


GENESIS_HASH = "0" * 64
# SQL that reads a timestamp as the chain hashes it (UTC, microseconds, "Z"; SQLite stores
# "YYYY-MM-DD HH:MM:SS.ffffff" in UTC already) and ``changes`` as its stored text.
TIMESTAMP_TEXT_SQL = {
    "postgresql": """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
    "sqlite": "replace(created_at, ' ', 'T') || 'Z'",
}
CHANGES_TEXT_SQL = {"postgresql": "changes::text", "sqlite": "changes"}


def canonical_json(value) -> str:
    """The one spelling of a JSON value that the chain hashes: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class CanonicalJSON(TypeDecorator):
    """A JSON column whose stored text is :func:`canonical_json` (SQL NULL for None).

    Verification can then hash the stored text as it is, without parsing and
    re-encoding the JSON of every entry.
    """

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect):
        def process(value):
            return None if value is None else canonical_json(value)

        return process

# SQLite only auto-numbers an INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
_BigId = BigInteger().with_variant(Integer(), "sqlite")

# What the free-text search looks in, written the way PostgreSQL prints it back, so the
# trigram index (PostgreSQL only, migrations 0002 and 0016) and the models compare equal:
# description, actor e-mail and resource, with every sealed value (app.personal_data.vault)
# taken out. Sealed text is ciphertext: indexed, it filled the index with random trigrams
# (13 times its size now) and let a short word match inside it by chance.
_SEARCH_TEXT = ("(((description || ' '::text) || actor_email::text) || ' '::text) "
                "|| COALESCE(resource_repr, ''::character varying)::text")
SEARCH_DOCUMENT = f"({_SEARCH_TEXT})"  # with the sealed values still in
SEALED_PATTERN = "s1~[0-9]+~[A-Za-z0-9_-]*"
SEARCH_EXPRESSION = f"regexp_replace({_SEARCH_TEXT}, '{SEALED_PATTERN}'::text, ' '::text, 'g'::text)"


def _search_index() -> Index:
    expression = text(SEARCH_EXPRESSION)
    expression.key = "search_text"  # lets postgresql_ops name the operator class of the expression
    return Index("ix_audit_logs_search", expression, postgresql_using="gin",
                 postgresql_ops={"search_text": "gin_trgm_ops"}).ddl_if(dialect="postgresql")


class AuditLog(db.Model):
    """One recorded event. Rows are chained: ``hash`` covers the row and ``prev_hash``.

    Actor and impersonator ids are deliberately not foreign keys: the history of a
    user outlives the user, and the copied e-mail keeps it readable.
    """

    __tablename__ = "audit_logs"
    # Lists are newest first by (created_at, id); every filter has an index that ends in
    # those two columns, so a page is one short index range scan at any depth.
    __table_args__ = (
        CheckConstraint("result IN ('success', 'failure')", name="result_valid"),
        Index("ix_audit_logs_created_at_id", "created_at", "id"),
        Index("ix_audit_logs_actor_id", "actor_id", "created_at", "id"),
        Index("ix_audit_logs_actor_email", "actor_email", "created_at", "id"),
        Index("ix_audit_logs_action", "action", "created_at", "id"),
        Index("ix_audit_logs_resource", "resource_type", "resource_id", "created_at", "id"),
        Index("ix_audit_logs_institution", "institution_id", "created_at", "id"),
        Index("ix_audit_logs_ip", "ip", "created_at", "id"),
        Index("ix_audit_logs_request_id", "request_id"),
        Index("ix_audit_logs_impersonator", "impersonator_id", "created_at", "id",
              postgresql_where=text("impersonator_id IS NOT NULL"),
              sqlite_where=text("impersonator_id IS NOT NULL")),
        Index("ix_audit_logs_impersonated", "created_at", "id",
              postgresql_where=text("impersonator_id IS NOT NULL"),
              sqlite_where=text("impersonator_id IS NOT NULL")),
        Index("ix_audit_logs_failures", "created_at", "id",
              postgresql_where=text("result = 'failure'"), sqlite_where=text("result = 'failure'")),
        _search_index(),
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
    changes: Mapped[dict | None] = mapped_column(CanonicalJSON())
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    request_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16), default=AuditResult.SUCCESS.value)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditLog {self.id} {self.action} {self.resource_type}:{self.resource_id}>"


class AuditPreviousHash(db.Model):
    """The hash an entry had before the chain was re-anchored (sealing older entries'
    personal values re-hashes them): kept for the entries that external anchors and backup
    manifests name, so those anchors can still be checked."""

    __tablename__ = "audit_previous_hashes"

    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    reanchor_entry_id: Mapped[int] = mapped_column(BigInteger)


class AuditVerification(db.Model):
    """One run of the chain verification: when, what it found, up to which entry."""

    __tablename__ = "audit_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)
    checked: Mapped[int] = mapped_column(BigInteger)
    head_id: Mapped[int | None] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    break_entry_id: Mapped[int | None] = mapped_column(BigInteger)
    break_kind: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(64))
