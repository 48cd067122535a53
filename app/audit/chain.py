"""The audit hash chain: a canonical encoding of an entry and the walk that checks it.

Each entry's ``hash`` is SHA-256 over its own fields and the previous entry's hash,
so changing, deleting or inserting a row breaks the chain at that point. The
encoding is length-prefixed (unambiguous) and identical on PostgreSQL and SQLite.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.audit.models import GENESIS_HASH, canonical_json

# The order of these names is part of the hash format: never reorder, only append.
HASHED_FIELDS: tuple[str, ...] = (
    "created_at",
    "actor_id",
    "actor_email",
    "impersonator_id",
    "impersonator_email",
    "action",
    "resource_type",
    "resource_id",
    "resource_repr",
    "institution_id",
    "description",
    "changes",
    "ip",
    "user_agent",
    "request_id",
    "result",
)


def _encode(value) -> str:
    if value is None:
        return "~"
    if isinstance(value, str):
        text = value  # the common case first; also a timestamp already written as below
    elif isinstance(value, datetime):
        text = timestamp_text(value)
    elif isinstance(value, (dict, list)):
        text = canonical_json(value)
    else:
        text = str(value)
    return f"{len(text)}:{text}"


def timestamp_text(value: datetime) -> str:
    """How a timestamp is hashed: UTC, microseconds, ``Z`` (PostgreSQL can write it the same way)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_fields(values: Sequence) -> str:
    """The hashed text of an entry's values (HASHED_FIELDS order), without the previous hash."""
    # The common types are encoded inline: this runs for every entry of a verification.
    return "|".join([
        "~" if value is None else f"{len(value)}:{value}" if type(value) is str else _encode(value)
        for value in values
    ])


def entry_hash(prev_hash: str, values: Sequence) -> str:
    """Hash of one entry given the previous hash and its values in HASHED_FIELDS order.

    SHA-256 of ``prev_hash + "|" + encode_fields(values)`` in UTF-8; PostgreSQL computes
    the same when it appends entries (migration 0002, ``audit_append``).
    """
    return hashlib.sha256((prev_hash + "|" + encode_fields(values)).encode("utf-8")).hexdigest()


def hash_of(entry, prev_hash: str) -> str:
    """Hash of an AuditLog-like object (anything with the HASHED_FIELDS attributes)."""
    return entry_hash(prev_hash, [getattr(entry, name) for name in HASHED_FIELDS])


CHECKPOINT_ACTION = "AUDIT_CHECKPOINT"
_ACTION = 3 + HASHED_FIELDS.index("action")
_CHANGES = 3 + HASHED_FIELDS.index("changes")


@dataclass(frozen=True)
class ChainBreak:
    entry_id: int
    kind: str  # "modified", "deleted", "inserted" or "rewritten"
    detail: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    head_id: int | None
    head_hash: str
    first_break: ChainBreak | None
    first_id: int | None = None
    seen: dict = field(default_factory=dict)  # hashes of the watched entry ids
    anchors_checked: int = 0  # external anchors found intact

    @property
    def ok(self) -> bool:
        return self.first_break is None


def _checkpoint_head(changes) -> str | None:
    if isinstance(changes, str):
        try:
            changes = json.loads(changes)
        except ValueError:
            return None
    return changes.get("head_hash") if isinstance(changes, dict) else None


def _matches_parsed(row: tuple, stored_hash: str) -> bool:
    """Whether the row matches once its ``changes`` text is parsed (stored in a non-canonical form).

    Verification hashes the stored JSON text as it is, which is canonical for entries
    written through :class:`~app.audit.models.CanonicalJSON`; older spellings of the
    same value are parsed and encoded again before an entry is called modified.
    """
    changes = row[_CHANGES]
    if type(changes) is not str:
        return False
    try:
        parsed = json.loads(changes)
    except ValueError:
        return False
    return entry_hash(row[1], (*row[3:_CHANGES], parsed, *row[_CHANGES + 1:])) == stored_hash


def walk(rows: Iterable[tuple], start_hash: str = GENESIS_HASH, *, resume: tuple[int, str] | None = None,
         watch: Container[int] = ()) -> ChainReport:
    """Check rows of ``(id, prev_hash, hash, *HASHED_FIELDS)`` in id order.

    Returns at the first break, classifying it: a row whose own hash is wrong was
    *modified*; a row that links to the hash before its predecessor follows an
    *inserted* row; any other broken link means rows before it were *deleted*; a
    checkpoint entry whose recorded head is not its predecessor shows the chain was
    *rewritten* after it was written.

    ``resume`` is ``(last_id, last_hash)`` of the newest purge checkpoint: the chain then
    starts after ``last_id``. If entries up to ``last_id`` are still there (a purge was
    interrupted), their first link cannot be checked, but their last must have ``last_hash``.
    ``watch`` names entries whose hashes the report keeps (to compare with external anchors).
    """
    expected_prev = start_hash if resume is None else resume[1]
    before_prev = None  # the hash two rows back, to recognise an inserted row
    previous_id = first_id = None
    pending = None  # (last_id, last_hash) while walking what an interrupted purge left
    checked = 0
    seen = {}

    def report(entry_id, kind, detail):
        return ChainReport(checked, previous_id, expected_prev, ChainBreak(entry_id, kind, detail), first_id, seen)

    for row in rows:
        row_id, prev_hash, stored_hash = row[0], row[1], row[2]
        if first_id is None:
            first_id = row_id
            if resume is not None and row_id <= resume[0]:
                expected_prev, pending = prev_hash, resume
        if entry_hash(prev_hash, row[3:]) != stored_hash and not _matches_parsed(row, stored_hash):
            return report(row_id, "modified", f"entry {row_id} does not match its hash: it was modified")
        if prev_hash != expected_prev:
            if before_prev is not None and prev_hash == before_prev:
                return report(previous_id, "inserted", f"entry {previous_id} is not part of the chain: it was inserted")
            return report(row_id, "deleted", (
                f"entry {row_id} does not follow entry {previous_id}: entries between them were deleted"
                if previous_id is not None
                else f"entry {row_id} does not start the chain: earlier entries were deleted"))
        if pending is not None and row_id == pending[0]:
            if stored_hash != pending[1]:
                return report(row_id, "rewritten",
                              f"entry {row_id} does not have the hash its purge checkpoint recorded: "
                              "the entries before it were rewritten")
            pending = None
        if row[_ACTION] == CHECKPOINT_ACTION and _checkpoint_head(row[_CHANGES]) != prev_hash:
            return report(row_id, "rewritten",
                          f"checkpoint entry {row_id} recorded another chain head than the entry before it: "
                          "the chain was rewritten")
        if row_id in watch:
            seen[row_id] = stored_hash
        before_prev, expected_prev, previous_id = expected_prev, stored_hash, row_id
        checked += 1
    if pending is not None:
        return report(pending[0], "deleted",
                      f"entry {pending[0]}, the last one its purge checkpoint removes, is missing with what follows it")
    return ChainReport(checked, previous_id, expected_prev, None, first_id, seen)
