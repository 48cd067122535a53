"""A copy of the erasure ledger next to the backups, so that no restore brings an erased person back.

The ledger lives in the database (app.personal_data.ledger); a restore re-applies the ledger
of the database it replaces. When that database is gone (a new server restores from the
backup storage), the copy kept here is what remembers the erasures made after the backup:
it is written after every erasure and with every backup, and a restore applies the union.
"""

from __future__ import annotations

from flask import Flask

from app.backups.storage import get_storage
from app.extensions import db
from app.personal_data import ledger

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
