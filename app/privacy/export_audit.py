"""The audit entries of an access export: about the person, or made by their accounts.

Each relation is read along an index of ``audit_logs`` in keyset batches ordered by
``(created_at, id)``: entries about the customer record and about their accounts
(``ix_audit_logs_resource``), about approval requests concerning them (the same index), and
made by their accounts (``ix_audit_logs_actor_id``). An entry belongs to the first relation
that finds it, so none is written twice. Memory stays flat: one batch at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, tuple_

from app.audit.models import AuditLog
from app.extensions import db
from app.personal_data import vault
from app.privacy.export_people import OTHER_PERSON, SYSTEM, Parties, Person, Revealer

BATCH = 5000
IN_CHUNK = 500  # ids per IN list
COLUMNS = ("id", "time", "relation", "action", "result", "actor", "on_behalf_of", "resource_type", "resource_id",
           "resource", "description", "changes", "ip", "user_agent")
_READ = (AuditLog.id, AuditLog.created_at, AuditLog.actor_id, AuditLog.actor_email, AuditLog.impersonator_id,
         AuditLog.action, AuditLog.result, AuditLog.resource_type, AuditLog.resource_id, AuditLog.resource_repr,
         AuditLog.description, AuditLog.changes, AuditLog.ip, AuditLog.user_agent)
RELATIONS = ("about_customer", "about_account", "about_approval", "by_account")


@dataclass(frozen=True)
class Path:
    """One indexed way to the person's entries: its relation name and its conditions."""

    relation: str
    conditions: tuple


def _chunks(values: Sequence, size: int = IN_CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield list(values[start:start + size])


def paths(person: Person, approval_ids: Sequence[int]) -> list[Path]:
    """The indexed paths to the person's entries, in the order their relations are written."""
    found = []
    if person.customer_id is not None:
        found.append(Path("about_customer", (AuditLog.resource_type == "customer",
                                             AuditLog.resource_id == str(person.customer_id))))
    for chunk in _chunks(person.account_ids):
        found.append(Path("about_account", (AuditLog.resource_type == "user",
                                            AuditLog.resource_id.in_([str(i) for i in chunk]))))
    for chunk in _chunks(approval_ids):
        found.append(Path("about_approval", (AuditLog.resource_type == "approval",
                                             AuditLog.resource_id.in_([str(i) for i in chunk]))))
    for chunk in _chunks(person.account_ids):
        found.append(Path("by_account", (AuditLog.actor_id.in_(chunk),)))
    return found


def count(found: list[Path]) -> int:
    """How many entries the paths reach (an upper bound: an entry may lie on two paths)."""
    return sum(db.session.scalar(select(func.count()).select_from(AuditLog).where(*p.conditions)) or 0
               for p in found)


def _batches(path: Path, size: int) -> Iterator[list]:
    last = None
    while True:
        query = select(*_READ).where(*path.conditions)
        if last is not None:
            query = query.where(tuple_(AuditLog.created_at, AuditLog.id) > tuple_(*last))
        rows = db.session.execute(query.order_by(AuditLog.created_at, AuditLog.id).limit(size)).all()
        if not rows:
            return
        yield rows
        if len(rows) < size:
            return
        last = (rows[-1].created_at, rows[-1].id)


class EntryWriter:
    """Turns stored entries into the export's records (revealed for the person, others withheld)."""

    def __init__(self, person: Person, parties: Parties, revealer: Revealer, approval_ids: Sequence[int]) -> None:
        self.person, self.parties, self.revealer = person, parties, revealer
        # What the earlier relations already cover: ``by_account`` skips these entries.
        self._covered = {("customer", str(person.customer_id)), *(("user", str(i)) for i in person.account_ids),
                         *(("approval", str(i)) for i in approval_ids)}

    def covered(self, row) -> bool:
        return (row.resource_type, row.resource_id) in self._covered

    def _actor(self, row) -> str | None:
        if row.actor_id is not None:
            return self.revealer.text(row.actor_email) if self.parties.is_own(row.actor_id) else \
                self.parties.name(row.actor_id)
        value = row.actor_email
        if vault.is_sealed(value) or "@" in (value or ""):
            return OTHER_PERSON
        return value or SYSTEM

    def record(self, row, relation: str) -> dict:
        # The address and browser of the person's own actions only (not of staff, not while
        # support acted as them).
        own_action = self.parties.is_own(row.actor_id) and row.impersonator_id is None
        reveal = self.revealer
        return {
            "id": row.id, "time": row.created_at, "relation": relation, "action": row.action, "result": row.result,
            "actor": self._actor(row), "on_behalf_of": self.parties.name(row.impersonator_id),
            "resource_type": row.resource_type, "resource_id": row.resource_id,
            "resource": reveal.text(row.resource_repr), "description": reveal.text(row.description),
            "changes": reveal.json(row.changes), "ip": row.ip if own_action else None,
            "user_agent": row.user_agent if own_action else None,
        }


def write_entries(dataset, found: list[Path], entries: EntryWriter, progress: Callable[[int], None]) -> int:
    """Write every entry the paths reach into ``dataset``, BATCH at a time; ``progress(n)`` after
    each batch. Returns how many were written."""
    written = 0
    for path in found:
        for rows in _batches(path, BATCH):
            entries.parties.learn({r.actor_id for r in rows} | {r.impersonator_id for r in rows})
            for row in rows:
                if path.relation == "by_account" and entries.covered(row):
                    continue
                dataset.write(entries.record(row, path.relation))
                written += 1
            progress(len(rows))
    return written
