"""A copy of the erasure ledger next to the backups, so that no restore brings an erased person back.

The ledger lives in the database (app.personal_data.ledger); a restore re-applies the ledger
of the database it replaces. When that database is gone (a new server restores from the
backup storage), the copy kept here is what remembers the erasures made after the backup:
it is written after every erasure and with every backup, and a restore applies the union.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.backups.storage import get_storage
from app.extensions import db
from app.personal_data import ledger
from app.personal_data.models import DataSubject

LEDGER_OBJECT = "erasure-ledger.json"


def save_copy() -> int:
    """Write the database's ledger to the backup storage; returns how many records it holds.

    Reads through a connection of its own: it also runs after a commit, when the session may
    not be used any more.
    """
    with db.engine.connect() as connection:
        records = ledger.ledger(connection)
    storage = get_storage()
    storage.prepare()  # the first erasure may come before the first backup
    storage.put_json(LEDGER_OBJECT, {"records": records})
    return len(records)


def stored_records() -> list[dict]:
    """The copy in the backup storage (empty when there is none yet)."""
    data = get_storage().get_json(LEDGER_OBJECT) or {}
    records = data.get("records")
    return records if isinstance(records, list) else []


def to_reapply() -> list[dict]:
    """The union of the database's ledger and the stored copy, oldest first (by record id)."""
    merged = {int(record["id"]): record for record in stored_records()}
    merged.update({int(record["id"]): record for record in ledger.ledger()})
    return [merged[key] for key in sorted(merged)]


def on_person_erased(_app: Flask, **_payload) -> None:
    """Subscriber of ``events.person_erased``: refresh the copy after the erasure committed."""
    save_copy()


@dataclass
class DrillCheck:
    """What re-applying the ledger did in a drill's scratch database."""

    records: int
    reapplied: int = 0
    predates_ledger: bool = False  # the backup's schema has no data_subjects table yet
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.predates_ledger:
            return (f"the backup predates the erasure ledger: a restore upgrades its schema, then re-applies the "
                    f"ledger's {self.records} erasure(s)")
        return (f"the erasure ledger's {self.records} erasure(s) re-applied in the scratch database "
                f"({self.reapplied} made true again), every erased subject's key is gone")


def check_in_scratch(url: URL, records: list[dict]) -> DrillCheck:
    """Re-apply ``records`` in a drill's scratch database (a restored copy of a backup) as a
    restore would, then check that every subject in them is erased there (no key left).

    The registered erasers work on ``db.session``: for this check it is a session of the
    scratch database, in an application context of its own, so the live database is never
    touched. Problems are returned, never raised.
    """
    check = DrillCheck(records=len(records))
    engine = create_engine(url, poolclass=NullPool)
    try:
        if not inspect(engine).has_table(DataSubject.__tablename__):
            check.predates_ledger = True
            return check
        with current_app.app_context():
            db.session.registry.set(Session(bind=engine))
            try:
                check.reapplied = ledger.reapply(records)
                db.session.commit()
                ids = {int(record["subject_id"]) for record in records}
                erased = set(db.session.scalars(select(DataSubject.id).where(
                    DataSubject.id.in_(ids), DataSubject.wrapped_key.is_(None), DataSubject.erased_at.is_not(None))))
                if readable := sorted(ids - erased):
                    check.problems.append("subjects still readable after re-applying the erasure ledger: #"
                                          + ", #".join(map(str, readable)))
            except Exception as exc:  # a failed check fails the drill; it must not end it unrecorded
                db.session.rollback()
                check.problems.append(f"re-applying the erasure ledger failed: {exc}")
            finally:
                db.session.remove()
    finally:
        engine.dispose()
    return check
