"""The audit service: the only way anything is written to the audit log.

``log()`` queues an entry on the current database session; the entry is chained and
inserted when that session commits, in the same transaction as the change it
records. A rollback discards it. On PostgreSQL a transaction-scoped advisory lock
makes concurrent writers take turns at the chain head, so the chain never forks.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal

from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event, insert, inspect, select, text

from app import database
from app.audit import personal
from app.audit.chain import HASHED_FIELDS, encode_fields, hash_of, timestamp_text
from app.audit.models import GENESIS_HASH, AuditAction, AuditLog, AuditResult, canonical_json
from app.database import utcnow
from app.escaping import one_line
from app.extensions import db
from app.security.actor import Actor, actor_from_request

_PENDING = "audit_pending"
_RETAINED = "audit_retained_failures"
_WRITTEN = "audit_written"
_STORED = (*HASHED_FIELDS, "prev_hash", "hash")
_CREATED_AT, _CHANGES = HASHED_FIELDS.index("created_at"), HASHED_FIELDS.index("changes")
trail = logging.getLogger("app.audit.trail")
# Any 64-bit constant works; this one spells "audit chain" in the lock table.
CHAIN_LOCK_KEY = 0x5A1A_0A0D_17C4_A1
MASK = personal.MASK
_SECRET_NAME = re.compile(r"pass(word)?|secret|token|otp|totp|backup_code|api_key|credential", re.I)
_MAX_DESCRIPTION = 2000
# Sent as it is (psycopg2 parameters): this runs at every commit that carries audit entries.
APPEND_SQL = "SELECT * FROM audit_append(%(key)s, CAST(%(entries)s AS jsonb))"


class PendingEntry:
    """An audit entry queued in a transaction: the audit_logs columns as plain attributes.

    ``id``, ``prev_hash`` and ``hash`` are set when the entry is written at commit. A plain
    object rather than an :class:`AuditLog` instance, because one is made for every audited
    change and the ORM's instrumented constructor costs several times more.
    """

    __slots__ = (*HASHED_FIELDS, "id", "prev_hash", "hash", "personal")

    def __init__(self, **values) -> None:
        for name in self.__slots__:
            setattr(self, name, values.get(name))

    def __repr__(self) -> str:
        return f"<PendingEntry {self.id} {self.action} {self.resource_type}:{self.resource_id}>"


def _json_safe(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(v) for v in value]
    return str(value)


def mask_secrets(changes: Mapping | None) -> dict | None:
    """Replace the values of secret-looking fields with a mask, keeping that they changed."""
    if changes is None:
        return None
    masked = {}
    for field, change in changes.items():
        if _SECRET_NAME.search(str(field)):
            if isinstance(change, Mapping):
                masked[field] = {k: (None if v is None else MASK) for k, v in change.items()}
            else:
                masked[field] = None if change is None else MASK
        else:
            masked[field] = _json_safe(change)
    return masked


def snapshot(obj, fields: Iterable[str]) -> dict:
    """The current values of ``fields`` on ``obj``, ready for :func:`diff`."""
    return {name: _json_safe(getattr(obj, name)) for name in fields}


def diff(before: Mapping, after: Mapping) -> dict:
    """``{field: {"before": x, "after": y}}`` for each field whose value changed."""
    changes = {}
    for field in sorted(set(before) | set(after)):
        old, new = _json_safe(before.get(field)), _json_safe(after.get(field))
        if old != new:
            changes[field] = {"before": old, "after": new}
    return changes


def _resource_fields(resource) -> dict:
    """Type, id, readable representation and institution of a model instance."""
    state = inspect(resource)
    if state.pending or resource.id is None:
        db.session.flush()
    if hasattr(resource, "institution_id"):
        institution_id = resource.institution_id
    elif type(resource).__tablename__ == "institutions":
        institution_id = resource.id
    else:
        institution_id = None
    return {
        "resource_type": type(resource).__name__.lower(),
        "resource_id": str(resource.id),
        "resource_repr": resource.audit_repr()[:300],
        "institution_id": institution_id,
    }


def log(
    actor: Actor,
    action: AuditAction | str,
    *,
    resource=None,
    resource_type: str | None = None,
    resource_id: str | int | None = None,
    resource_repr: str | None = None,
    institution_id: int | None = None,
    description: str = "",
    changes: Mapping | None = None,
    result: AuditResult | str = AuditResult.SUCCESS,
    occurred_at: datetime | None = None,
    people: Iterable = (),
) -> PendingEntry:
    """Queue an audit entry in the current transaction; it is written when that commits.

    ``resource`` may be a model instance (its type, id, representation and institution
    are copied), or describe it with the explicit ``resource_*`` arguments. Values of
    secret-looking fields in ``changes`` are masked. ``occurred_at`` is for importing
    history (demo data); normal callers leave it to the clock.

    Personal values are sealed when the entry is written (app.personal_data.vault): the
    actor's and impersonator's e-mail, the representation and personal fields of a resource
    that is a person, and these people's values wherever the description mentions them;
    ``people`` names further customers or accounts the entry mentions.
    """
    subject = personal.subject_of(resource, resource_type, resource_id)
    fields = _resource_fields(resource) if resource is not None else {
        "resource_type": resource_type,
        "resource_id": None if resource_id is None else str(resource_id),
        "resource_repr": None if resource_repr is None else resource_repr[:300],
        "institution_id": institution_id,
    }
    if institution_id is not None:
        fields["institution_id"] = institution_id
    entry = PendingEntry(
        created_at=occurred_at or utcnow(),
        actor_id=actor.user_id,
        actor_email=actor.email,
        impersonator_id=actor.impersonator_id,
        impersonator_email=actor.impersonator_email,
        action=AuditAction(action).value,
        description=(description or "")[:_MAX_DESCRIPTION],
        changes=mask_secrets(changes) or None,
        ip=actor.ip,
        user_agent=actor.user_agent,
        request_id=actor.request_id,
        result=AuditResult(result).value,
        **fields,
    )
    entry.personal = (subject, personal.people(actor, subject, resource, people))
    session = db.session()
    if not session.in_transaction():
        # Make the transaction explicit so that its rollback discards this entry.
        session.begin()
    session.info.setdefault(_PENDING, []).append(entry)
    return entry


def log_from_request(action: AuditAction | str, *, user=None, **kwargs) -> PendingEntry:
    """:func:`log` with the actor taken from the current request (for route-level events)."""
    return log(actor_from_request(user), action, **kwargs)


def pending_entries(session=None) -> list[PendingEntry]:
    """Entries queued in this transaction and not yet written (for tests and previews)."""
    return list((session or db.session).info.get(_PENDING, ()))


def lock_chain(session=None) -> None:
    """Take the chain head for the rest of this transaction (PostgreSQL; SQLite writers already take turns)."""
    session = session or db.session
    if session.get_bind().dialect.name == "postgresql":
        # Held until this transaction ends: writers take turns at the chain head. The lock
        # is re-entrant, so a caller may take it before the commit takes it again.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})


def _write_pending(session) -> None:
    if not session.info.get(_PENDING):
        return
    # Flush the change first, so the chain lock is held only from the append to the commit.
    session.flush()
    pending = session.info.pop(_PENDING)
    for entry in pending:
        personal.seal_entry(entry)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _append_on_postgresql(connection, pending)
    else:
        _append(session, pending)
    if trail.isEnabledFor(logging.INFO):
        session.info.setdefault(_WRITTEN, []).extend(_trail_line(entry) for entry in pending)


def append_parameters(pending: list[PendingEntry]) -> dict:
    """The parameters of ``APPEND_SQL`` for these entries (also used by the benchmark)."""
    items = []
    for entry in pending:
        values = [getattr(entry, name) for name in HASHED_FIELDS]
        item = dict(zip(HASHED_FIELDS, values, strict=True))
        # The timestamp and the changes are encoded once, for the payload and for the row alike.
        values[_CREATED_AT] = item["created_at"] = timestamp_text(entry.created_at)
        if entry.changes is not None:
            values[_CHANGES] = item["changes"] = canonical_json(entry.changes)
        item["payload"] = encode_fields(values)
        items.append(item)
    return {"key": CHAIN_LOCK_KEY, "entries": json.dumps(items)}


def _append_on_postgresql(connection, pending: list[PendingEntry]) -> None:
    """Lock, read the head, hash and insert in one round trip (``audit_append``, migration 0002)."""
    # The driver's own statement: no ORM execution (autoflush, result objects) on this hot path.
    rows = connection.exec_driver_sql(APPEND_SQL, append_parameters(pending))
    for entry, (entry_id, prev_hash, digest) in zip(pending, rows, strict=True):
        entry.id, entry.prev_hash, entry.hash = entry_id, prev_hash, digest


def _append(session, pending: list[PendingEntry]) -> None:
    # SQLite needs no lock: a transaction whose snapshot is stale cannot write there.
    prev = session.execute(select(AuditLog.hash).order_by(AuditLog.id.desc()).limit(1)).scalar() or GENESIS_HASH
    rows = []
    for entry in pending:
        entry.prev_hash = prev
        entry.hash = prev = hash_of(entry, prev)
        rows.append({name: getattr(entry, name) for name in _STORED})
    # One multi-row INSERT .. RETURNING, not the unit of work: this runs for every audited change.
    ids = session.execute(insert(AuditLog).returning(AuditLog.id, sort_by_parameter_order=True), rows).scalars()
    for entry, entry_id in zip(pending, ids, strict=True):
        entry.id = entry_id


def _trail_line(entry: PendingEntry) -> str:
    """One line for the server log; stored values can never break it (CR/LF are escaped)."""
    return (f"audit entry {entry.id} {entry.action} {entry.result} actor={one_line(entry.actor_email)} "
            f"resource={one_line(entry.resource_type or '-')}:{one_line(entry.resource_id or '-')} "
            f"request={entry.request_id or '-'}: {one_line(entry.description[:300])}")


def _log_written(session) -> None:
    """Mirror committed entries to the server log (for log shippers and SIEMs)."""
    for line in session.info.pop(_WRITTEN, ()):
        trail.info("%s", line)


def _discard_pending(session, transaction) -> None:
    if transaction.parent is not None:
        return
    session.info.pop(_WRITTEN, None)  # rolled back (after a commit, already logged and gone)
    discarded = session.info.pop(_PENDING, None)
    if discarded:
        # A refused attempt is recorded even though its transaction rolls back: it
        # describes something that was tried, not a change that was made.
        failures = [e for e in discarded if e.result == AuditResult.FAILURE.value]
        if failures:
            session.info.setdefault(_RETAINED, []).extend(failures)


def write_retained_failures(session=None) -> int:
    """After a rollback, commit the failure entries that the rolled-back work queued.

    Called by the transaction boundaries (request, CLI, job) right after they roll
    back; returns how many entries were written.
    """
    session = session or db.session
    retained = session.info.pop(_RETAINED, None)
    if not retained:
        return 0
    session.info[_PENDING] = retained
    session.commit()
    return len(retained)


def install_session_hooks() -> None:
    """Write queued entries at commit, drop them at rollback, and write the retained
    entries of refused attempts after a boundary rolls back (idempotent)."""
    database.on_roll_back(write_retained_failures)
    if not event.contains(FlaskSession, "before_commit", _write_pending):
        event.listen(FlaskSession, "before_commit", _write_pending)
        event.listen(FlaskSession, "after_transaction_end", _discard_pending)
        event.listen(FlaskSession, "after_commit", _log_written)


def chain_head() -> tuple[int | None, str]:
    """The id and hash of the newest entry (what backups and checkpoints record)."""
    row = db.session.execute(
        select(AuditLog.id, AuditLog.hash).order_by(AuditLog.id.desc()).limit(1)
    ).first()
    return (row.id, row.hash) if row else (None, GENESIS_HASH)
