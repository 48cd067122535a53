"""The audit hash chain: a canonical encoding of an entry and the walk that checks it.

Each entry's ``hash`` is SHA-256 over its own fields and the previous entry's hash,
so changing, deleting or inserting a row breaks the chain at that point. The
encoding is length-prefixed (unambiguous) and identical on PostgreSQL and SQLite.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.audit.models import GENESIS_HASH

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


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _encode(value) -> str:
    if value is None:
        return "~"
    if isinstance(value, datetime):
        text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    elif isinstance(value, (dict, list)):
        text = canonical_json(value)
    else:
        text = str(value)
    return f"{len(text)}:{text}"


def entry_hash(prev_hash: str, values: Sequence) -> str:
    """Hash of one entry given the previous hash and its values in HASHED_FIELDS order."""
    payload = prev_hash + "|" + "|".join(_encode(v) for v in values)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def hash_of(entry, prev_hash: str) -> str:
    """Hash of an AuditLog-like object (anything with the HASHED_FIELDS attributes)."""
    return entry_hash(prev_hash, [getattr(entry, name) for name in HASHED_FIELDS])


@dataclass(frozen=True)
class ChainBreak:
    entry_id: int
    kind: str  # "modified", "deleted" or "inserted"
    detail: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    head_id: int | None
    head_hash: str
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def walk(rows: Iterable[tuple], start_hash: str = GENESIS_HASH) -> ChainReport:
    """Check rows of ``(id, prev_hash, hash, *HASHED_FIELDS)`` in id order.

    Returns at the first break, classifying it: a row whose own hash is wrong was
    *modified*; a row that links to the hash before its predecessor follows an
    *inserted* row; any other broken link means rows before it were *deleted*.
    """
    expected_prev = start_hash
    before_prev = None  # the hash two rows back, to recognise an inserted row
    previous_id = None
    checked = 0
    for row in rows:
        row_id, prev_hash, stored_hash = row[0], row[1], row[2]
        if entry_hash(prev_hash, row[3:]) != stored_hash:
            return ChainReport(checked, previous_id, expected_prev, ChainBreak(
                row_id, "modified", f"entry {row_id} does not match its hash: it was modified"))
        if prev_hash != expected_prev:
            if before_prev is not None and prev_hash == before_prev:
                return ChainReport(checked, previous_id, expected_prev, ChainBreak(
                    previous_id, "inserted",
                    f"entry {previous_id} is not part of the chain: it was inserted"))
            return ChainReport(checked, previous_id, expected_prev, ChainBreak(
                row_id, "deleted",
                f"entry {row_id} does not follow entry {previous_id}: entries between them were deleted"
                if previous_id is not None
                else f"entry {row_id} does not start the chain: earlier entries were deleted"))
        before_prev, expected_prev, previous_id = expected_prev, stored_hash, row_id
        checked += 1
    return ChainReport(checked, previous_id, expected_prev, None)
