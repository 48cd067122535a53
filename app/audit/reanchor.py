"""Sealing the personal values of entries written before sealing existed, and re-anchoring.

Sealing changes what an entry's hash covers, so every entry from the first sealed one on
gets a new hash. This is done once, by the migration that introduced sealing:

1. the existing chain is verified first (a broken chain is never rewritten: the migration
   stops and says where it broke);
2. each entry's personal values are sealed under their subject's key and the chain is
   hashed again from its start (or from the newest purge checkpoint), checkpoint entries
   recording the new hash of the head they name;
3. the old hashes of the entries outside anchors may name (checkpoint heads, backup
   manifests' chain heads, the old head) are kept in ``audit_previous_hashes``;
4. an ``AUDIT_REANCHOR`` entry is appended that records the old head (id and hash) and
   what was done, so the rewrite is itself on the chain.

Everything runs through one connection, in the migration's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import Connection, text

from app.audit.chain import CHECKPOINT_ACTION, HASHED_FIELDS, entry_hash, walk
from app.audit.integrity import chain_sql
from app.audit.models import GENESIS_HASH, AuditAction, canonical_json
from app.audit.personal import seal_changes, seal_mentions
from app.database import utcnow
from app.personal_data.catalogue import PERSONAL_FIELDS
from app.personal_data.vault import Sealer

BATCH = 2000
_F = {name: index for index, name in enumerate(HASHED_FIELDS)}
SEALED_COLUMNS = ("actor_email", "impersonator_email", "resource_repr", "description", "changes")


class BrokenChain(RuntimeError):
    """The chain does not verify; it is not rewritten."""


def _rows(connection: Connection, after: int = 0) -> Iterator[tuple]:
    sql = chain_sql(connection.dialect.name).replace(" ORDER BY id", " WHERE id > :after ORDER BY id LIMIT :n")
    while True:
        batch = connection.execute(text(sql), {"after": after, "n": BATCH}).all()
        yield from (tuple(row) for row in batch)
        if len(batch) < BATCH:
            return
        after = batch[-1][0]


def _latest_purge(connection: Connection) -> tuple[int, str] | None:
    raw = connection.execute(text(
        "SELECT changes FROM audit_logs WHERE action = 'AUDIT_PURGE' AND result = 'success' "
        "ORDER BY created_at DESC, id DESC LIMIT 1")).scalar()
    changes = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(changes, dict) or not isinstance(changes.get("last_id"), int):
        return None
    return changes["last_id"], str(changes.get("last_hash"))


class _People:
    """The personal values of the people entries name, read once per person."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.values: dict[tuple[str, int], list[str]] = {}
        self.approvals: dict[int, tuple[str, int] | None] = {}

    def of(self, kind: str, ref_id: int) -> list[str]:
        if (kind, ref_id) not in self.values:
            table = {"customer": "customers", "user": "users"}[kind]
            columns = ", ".join(PERSONAL_FIELDS[kind])
            row = self.connection.execute(text(f"SELECT {columns} FROM {table} WHERE id = :id"),  # noqa: S608
                                          {"id": ref_id}).first()
            self.values[(kind, ref_id)] = [str(v) for v in (row or ()) if v]
        return self.values[(kind, ref_id)]

    def approval_subject(self, approval_id: int) -> tuple[str, int] | None:
        if approval_id not in self.approvals:
            row = self.connection.execute(text("SELECT subject_type, subject_id FROM approvals WHERE id = :id"),
                                          {"id": approval_id}).first()
            subject = None
            if row and row.subject_type in PERSONAL_FIELDS and str(row.subject_id).isdecimal():
                subject = (row.subject_type, int(row.subject_id))
            self.approvals[approval_id] = subject
        return self.approvals[approval_id]


def seal_values(sealer: Sealer, people: _People, values: list) -> list:
    """One entry's hashed values (HASHED_FIELDS order, as the chain reads them) with personal values sealed."""
    values = list(values)
    found = []
    actor_id, impersonator_id = values[_F["actor_id"]], values[_F["impersonator_id"]]
    if actor_id is not None:
        found.append(("user", int(actor_id), [values[_F["actor_email"]]]))
        values[_F["actor_email"]] = sealer.seal("user", int(actor_id), values[_F["actor_email"]], max_length=254)
    if impersonator_id is not None:
        found.append(("user", int(impersonator_id), [values[_F["impersonator_email"]] or ""]))
        values[_F["impersonator_email"]] = sealer.seal("user", int(impersonator_id),
                                                       values[_F["impersonator_email"]], max_length=254)
    resource_type, resource_id = values[_F["resource_type"]], values[_F["resource_id"]]
    subject = None
    if resource_type in PERSONAL_FIELDS and resource_id and str(resource_id).isdecimal():
        subject = (resource_type, int(resource_id))
    elif resource_type == "approval" and resource_id and str(resource_id).isdecimal():
        subject = people.approval_subject(int(resource_id))
    raw_changes = values[_F["changes"]]
    changes = json.loads(raw_changes) if isinstance(raw_changes, str) else raw_changes
    if subject is not None:
        kind, ref_id = subject
        mentioned = list(people.of(kind, ref_id))
        if isinstance(changes, dict):
            for name in PERSONAL_FIELDS[kind]:
                change = changes.get(name)
                if isinstance(change, dict):
                    mentioned += [str(v) for v in change.values() if isinstance(v, str) and v]
            changes = seal_changes(sealer.seal, kind, ref_id, changes, PERSONAL_FIELDS[kind])
        found.append((kind, ref_id, mentioned))
        values[_F["resource_repr"]] = sealer.seal(kind, ref_id, values[_F["resource_repr"]], max_length=300)
    else:
        sealed_repr = seal_mentions(sealer.seal, values[_F["resource_repr"]], found)
        values[_F["resource_repr"]] = sealed_repr if sealed_repr is None or len(sealed_repr) <= 300 else (
            sealer.seal(found[0][0], found[0][1], values[_F["resource_repr"]], max_length=300))
    values[_F["description"]] = seal_mentions(sealer.seal, values[_F["description"]], found)
    if changes is not None and changes != (json.loads(raw_changes) if isinstance(raw_changes, str) else raw_changes):
        values[_F["changes"]] = canonical_json(changes)
    return values


def _anchored_ids(connection: Connection) -> set[int]:
    """Entries that external anchors may name: checkpoint heads and backup manifests' chain heads."""
    ids = set()
    checkpoints = text("SELECT changes FROM audit_logs WHERE action = :action")
    for (raw,) in connection.execute(checkpoints, {"action": CHECKPOINT_ACTION}):
        changes = json.loads(raw) if isinstance(raw, str) else raw
        if isinstance(changes, dict) and isinstance(changes.get("head_id"), int):
            ids.add(changes["head_id"])
    for (raw,) in connection.execute(text("SELECT manifest FROM backups")):
        manifest = json.loads(raw) if isinstance(raw, str) else raw
        head = (manifest or {}).get("audit_chain_head") or {}
        if isinstance(head, dict) and isinstance(head.get("id"), int):
            ids.add(head["id"])
    return ids


def _update(connection: Connection, rows: list[dict]) -> None:
    if not rows:
        return
    sets = ", ".join(f"{name} = :{name}" for name in (*SEALED_COLUMNS, "prev_hash", "hash"))
    statement = f"UPDATE audit_logs SET {sets} WHERE id = :id"  # noqa: S608 (constant column names)
    if connection.dialect.name == "postgresql":
        statement = statement.replace(":changes", "CAST(:changes AS json)")
    connection.execute(text(statement), rows)


def reanchor(connection: Connection) -> dict | None:
    """Seal every existing entry's personal values, hash the chain again and append an
    ``AUDIT_REANCHOR`` entry; returns what it recorded (None for an empty log).
    Raises :class:`BrokenChain` when the chain does not verify as it is."""
    purge = _latest_purge(connection)
    report = walk(_rows(connection), resume=purge)
    if not report.ok:
        raise BrokenChain(f"the audit chain is broken ({report.first_break.detail}); run `flask audit verify`. "
                          "A broken chain is never rewritten.")
    if report.head_id is None:
        return None
    sealer, people, anchored = Sealer(connection), _People(connection), _anchored_ids(connection)
    anchored.add(report.head_id)
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        connection.execute(text("ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only"))
    previous, pending, resealed, new_prev, old_hashes = None, [], 0, None, {}
    for row in _rows(connection):
        entry_id, prev_hash, old_hash = row[0], row[1], row[2]
        new_prev = prev_hash if previous is None else previous
        values = seal_values(sealer, people, row[3:])
        resealed += values != list(row[3:])
        if values[_F["action"]] == CHECKPOINT_ACTION:
            changes = json.loads(values[_F["changes"]])
            # It recorded its predecessor's hash (the chain verified): now that hash is a new one.
            changes["head_hash_before_reanchor"] = changes.get("head_hash")
            changes["head_hash"] = new_prev
            values[_F["changes"]] = canonical_json(changes)
        new_hash = entry_hash(new_prev, values)
        if entry_id in anchored:
            old_hashes[entry_id] = old_hash
        if new_hash != old_hash or new_prev != prev_hash:
            pending.append({"id": entry_id, "prev_hash": new_prev, "hash": new_hash,
                            **{name: values[_F[name]] for name in SEALED_COLUMNS}})
        previous = new_hash
        if len(pending) >= BATCH:
            _update(connection, pending)
            pending = []
    _update(connection, pending)
    if postgresql:
        connection.execute(text("ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_append_only"))
    record = {"previous_head": {"id": report.head_id, "hash": report.head_hash}, "entries": report.checked,
              "entries_with_personal_values": resealed, "previous_hashes_kept": len(old_hashes)}
    entry_id = _append_reanchor(connection, previous or GENESIS_HASH, record)
    if old_hashes:
        connection.execute(text("INSERT INTO audit_previous_hashes (entry_id, hash, reanchor_entry_id) "
                                "VALUES (:entry_id, :hash, :reanchor)"),
                           [{"entry_id": k, "hash": v, "reanchor": entry_id} for k, v in old_hashes.items()])
    return record


def _append_reanchor(connection: Connection, prev_hash: str, record: dict) -> int:
    now = utcnow()
    values = {name: None for name in HASHED_FIELDS}
    values.update(created_at=now, actor_email="system:migration", action=AuditAction.AUDIT_REANCHOR.value,
                  resource_type="audit_log", resource_repr="audit chain",
                  description=(f"Personal values of {record['entries_with_personal_values']} of "
                               f"{record['entries']} entries sealed; chain re-anchored after entry "
                               f"{record['previous_head']['id']}"),
                  changes=record, result="success")
    digest = entry_hash(prev_hash, [values[name] for name in HASHED_FIELDS])
    columns = (*HASHED_FIELDS, "prev_hash", "hash")
    params = {**values, "changes": canonical_json(record), "prev_hash": prev_hash, "hash": digest}
    placeholders = ", ".join(f":{name}" for name in columns)
    if connection.dialect.name == "postgresql":
        placeholders = placeholders.replace(":changes", "CAST(:changes AS json)")
    else:
        params["created_at"] = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    return connection.execute(text(
        f"INSERT INTO audit_logs ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id"),  # noqa: S608
        params).scalar_one()
