"""Erasure: destroying a subject's key, the ledger of erasures, and re-applying it after a restore.

The ledger holds no personal data (subject ids, kinds, record ids, times). It lives in the
database and is carried across a restore by the restore itself (read before, re-applied
after, before the portal serves again), so restoring an older backup never brings an
erased person back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import select, text, update

from app.database import utcnow
from app.extensions import db
from app.personal_data import vault
from app.personal_data.models import DataSubject, ErasureRecord

Eraser = Callable[[int], None]
KeyDestroyed = Callable[[str, int], None]
_ERASERS: dict[str, Eraser] = {}
_ON_DESTROY: list[KeyDestroyed] = []


def is_erased(kind: str, ref_id: int) -> bool:
    """Whether this person has been erased (their key destroyed)."""
    row = db.session.execute(select(DataSubject.erased_at).where(
        DataSubject.kind == kind, DataSubject.ref_id == ref_id)).first()
    return row is not None and row.erased_at is not None


def on_erase(kind: str, eraser: Eraser) -> None:
    """Register how the rows of one kind of subject are pseudonymised (``eraser(ref_id)``);
    the privacy package does, and :func:`reapply` uses it after a restore."""
    _ERASERS[kind] = eraser


def on_destroy_key(callback: KeyDestroyed) -> None:
    """Register ``callback(kind, ref_id)``, run in the erasure's own transaction whenever a key is
    destroyed: what else must go with the person (e.g. their analytics events that can still be
    linked to them). Registering the same function twice has no effect."""
    if callback not in _ON_DESTROY:
        _ON_DESTROY.append(callback)


def destroy_key(kind: str, ref_id: int, *, request_ref: str | None = None) -> ErasureRecord:
    """Destroy a subject's key and record the erasure in the ledger (in the caller's transaction)."""
    subject_id, _cipher_unused = vault.subject(kind, ref_id)
    db.session.execute(update(DataSubject).where(DataSubject.id == subject_id).values(
        wrapped_key=None, erased_at=utcnow()))
    record = ErasureRecord(subject_id=subject_id, kind=kind, ref_id=ref_id, erased_at=utcnow(),
                           request_ref=request_ref)
    db.session.add(record)
    db.session.flush()
    for callback in _ON_DESTROY:
        callback(kind, ref_id)
    vault.forget_keys()
    return record


def ledger(connection=None) -> list[dict]:
    """Every recorded erasure, oldest first (no personal data: ids and times). ``connection``
    reads outside the session (an after-commit subscriber may not use it)."""
    query = select(*ErasureRecord.__table__.columns).order_by(ErasureRecord.id)
    rows = (connection or db.session).execute(query).mappings()
    return [{**row, "erased_at": row["erased_at"].isoformat()} for row in rows]


def reapply(records: Iterable[dict]) -> int:
    """Make every erasure in ``records`` true again in this database (after a restore).

    A subject the database does not know yet is created erased under the ledger's id; a
    subject whose key is back is pseudonymised by its registered eraser and its key destroyed
    again; missing ledger rows are put back. Returns how many subjects were erased again.
    Raises KeyError for a kind no eraser is registered for.
    """
    applied = 0
    known_ledger = set(db.session.scalars(select(ErasureRecord.id)))
    for record in records:
        kind, ref_id, subject_id = record["kind"], int(record["ref_id"]), int(record["subject_id"])
        row = db.session.get(DataSubject, subject_id)
        if row is None:
            db.session.add(DataSubject(id=subject_id, kind=kind, ref_id=ref_id, wrapped_key=None,
                                       created_at=utcnow(), erased_at=utcnow()))
            db.session.flush()
        if row is None or row.erased_at is None or row.wrapped_key is not None:
            _ERASERS[kind](ref_id)
            db.session.execute(update(DataSubject).where(DataSubject.id == subject_id).values(
                wrapped_key=None, erased_at=utcnow()))
            applied += 1
        if int(record["id"]) not in known_ledger:
            db.session.add(ErasureRecord(id=int(record["id"]), subject_id=subject_id, kind=kind, ref_id=ref_id,
                                         erased_at=_parse_time(record["erased_at"]),
                                         request_ref=record.get("request_ref")))
    db.session.flush()
    _bump_sequences()
    vault.forget_keys()
    return applied


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _bump_sequences() -> None:
    """Ids given explicitly must not be handed out again (PostgreSQL sequences)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in ("data_subjects", "erasure_ledger"):
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 (fixed table names)
            f"GREATEST((SELECT COALESCE(max(id), 0) FROM {table}), 1))"))
