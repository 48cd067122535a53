"""How stored audit values are shown on the pages (sealed personal values revealed, no rules)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.personal_data import vault

_DIFF_KEYS = {"before", "after"}


@dataclass(frozen=True)
class ChangeRow:
    field: str
    before: str | None
    after: str | None
    is_diff: bool  # a before/after pair; otherwise a single recorded value (shown as "after")


def show(value) -> str | None:
    """A stored value as text: JSON for structures, None stays None."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def change_rows(changes) -> list[ChangeRow]:
    """The rows of the before/after table for an entry's ``changes`` (sealed values revealed)."""
    changes = vault.reveal_json(changes)
    if not isinstance(changes, dict):
        return [] if changes is None else [ChangeRow("", None, show(changes), False)]
    rows = []
    for name in sorted(changes):
        value = changes[name]
        if isinstance(value, dict) and value and set(value) <= _DIFF_KEYS:
            rows.append(ChangeRow(name, show(value.get("before")), show(value.get("after")), True))
        else:
            rows.append(ChangeRow(name, None, show(value), False))
    return rows


def approximate(count: int) -> int:
    """An estimate rounded to two significant digits (an estimate has no more)."""
    if count < 1000:
        return count
    digits = len(str(count)) - 2
    return round(count, -digits)
