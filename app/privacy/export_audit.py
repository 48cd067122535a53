"""The audit entries of an access export: about the person, or made by their accounts.

Each relation is read along an index of ``audit_logs`` in keyset batches ordered by
``(created_at, id)``: entries about the customer record and about their accounts
(``ix_audit_logs_resource``), about approval requests concerning them (the same index), and
made by their accounts (``ix_audit_logs_actor_id``). An entry belongs to the first relation
that finds it, so none is written twice. Memory stays flat: a batch is written while the
next one is read (on PostgreSQL in a thread of its own), never more.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, tuple_

from app.audit.models import AuditLog
from app.extensions import db
from app.personal_data import vault
from app.privacy.export_people import OTHER_PERSON, SYSTEM, Parties, Person, Revealer

BATCH = 5000
IN_CHUNK = 500  # ids per IN list
COLUMNS = ("id", "time", "relation", "action", "result", "actor", "on_behalf_of", "resource_type", "resource_id",
           "resource", "description", "changes", "ip", "user_agent")
_TABLE = AuditLog.__table__.c
# Read through the connection (Core rows, not the ORM's): this runs for every entry exported.
_READ = (_TABLE.id, _TABLE.created_at, _TABLE.actor_id, _TABLE.actor_email, _TABLE.impersonator_id, _TABLE.action,
         _TABLE.result, _TABLE.resource_type, _TABLE.resource_id, _TABLE.resource_repr, _TABLE.description,
         _TABLE.changes, _TABLE.ip, _TABLE.user_agent)
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


def _batches(connection, path: Path, size: int) -> Iterator[list]:
    last = None
    while True:
        query = select(*_READ).where(*path.conditions)
        if last is not None:
            query = query.where(tuple_(_TABLE.created_at, _TABLE.id) > tuple_(*last))
        rows = connection.execute(query.order_by(_TABLE.created_at, _TABLE.id).limit(size)).all()
        if not rows:
            return
        yield rows
        if len(rows) < size:
            return
        last = (rows[-1][1], rows[-1][0])


def _read(connection, found: list[Path], parties: Parties) -> Iterator[tuple[Path, list]]:
    """Every batch of every path, with the roles of the accounts it names learnt."""
    for path in found:
        for rows in _batches(connection, path, BATCH):
            parties.learn({r[2] for r in rows} | {r[4] for r in rows})
            yield path, rows


_END = object()


def read_ahead(batches: Iterator, threaded: bool) -> Iterator:
    """``batches``, each next one read in a thread while the caller writes the last one: on
    PostgreSQL the driver waits for the server without holding the GIL. Nothing else may use
    the connection meanwhile. Without ``threaded``, simply ``batches``."""
    if not threaded:
        yield from batches
        return
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    with contextlib.suppress(queue.Full):
                        ready.put((batch, None), timeout=0.05)
                        break
                if stop.is_set():
                    return
            ready.put((_END, None))
        except BaseException as exc:  # handed to the caller, raised there
            ready.put((_END, exc))
        finally:
            batches.close()

    reader = threading.Thread(target=produce, name="privacy-export-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            batch, error = ready.get()
            if error is not None:
                raise error
            if batch is _END:
                return
            yield batch
    finally:
        stop.set()
        while reader.is_alive():  # a reader waiting for room must see the stop (never left running)
            with contextlib.suppress(queue.Empty):
                ready.get_nowait()
            reader.join(0.05)


class EntryWriter:
    """Turns stored entries into the export's records (revealed for the person, others withheld)."""

    def __init__(self, person: Person, parties: Parties, revealer: Revealer, approval_ids: Sequence[int]) -> None:
        self.person, self.parties, self.revealer = person, parties, revealer
        # What the earlier relations already cover: ``by_account`` skips these entries.
        self._covered = {("customer", str(person.customer_id)), *(("user", str(i)) for i in person.account_ids),
                         *(("approval", str(i)) for i in approval_ids)}
        self._actors: dict[tuple, str | None] = {}

    def _actor(self, actor_id: int | None, value: str | None) -> str | None:
        if actor_id is not None:
            return self.revealer.text(value) if self.parties.is_own(actor_id) else self.parties.name(actor_id)
        if vault.is_sealed(value) or "@" in (value or ""):
            return OTHER_PERSON
        return value or SYSTEM

    def columns(self, rows, relation: str) -> list[Sequence]:
        """The records of ``rows`` (``_READ`` order) column by column, in COLUMNS order; entries an
        earlier relation covers are left out of ``by_account``."""
        if relation == "by_account":
            rows = [row for row in rows if (row[7], row[8]) not in self._covered]
        if not rows:
            return [() for _column in COLUMNS]
        (ids, times, actor_ids, addresses, impersonators, actions, results, resource_types, resource_ids, reprs,
         descriptions, changes, ips, agents) = zip(*rows, strict=True)
        actors = list(zip(actor_ids, addresses, strict=True))
        for actor in set(actors).difference(self._actors):  # the same few actors recur in every batch
            self._actors[actor] = self._actor(*actor)
        # The address and browser of the person's own actions only (not of staff, not while
        # support acted as them).
        own = self.parties.own
        own_actions = [impersonator is None and actor_id in own for impersonator, actor_id in
                       zip(impersonators, actor_ids, strict=True)]
        name, json, texts = self.parties.name, self.revealer.json, self.revealer.texts
        return [
            ids, list(map(datetime.isoformat, times)), [relation] * len(ids), actions, results,
            list(map(self._actors.__getitem__, actors)),
            [None if impersonator is None else name(impersonator) for impersonator in impersonators],
            resource_types, resource_ids, texts(reprs), texts(descriptions),
            [None if value is None else json(value) for value in changes],
            [ip if mine else None for ip, mine in zip(ips, own_actions, strict=True)],
            [agent if mine else None for agent, mine in zip(agents, own_actions, strict=True)],
        ]


def write_entries(dataset, found: list[Path], entries: EntryWriter, progress: Callable[[int], None]) -> int:
    """Write every entry the paths reach into ``dataset``, BATCH at a time; ``progress(n)`` after
    each batch. Returns how many were written. On PostgreSQL the next batch is read while one is
    written (:func:`read_ahead`)."""
    connection = db.session.connection()
    written = 0
    for path, rows in read_ahead(_read(connection, found, entries.parties),
                                 threaded=connection.dialect.name == "postgresql"):
        columns = entries.columns(rows, path.relation)
        dataset.write_columns(columns)
        written += len(columns[0])
        progress(len(rows))
    return written
