"""Keyset (cursor) pagination: pages by position, never by OFFSET, and no COUNT(*).

A page is found with ``WHERE (sort, id) < (last_sort, last_id) ORDER BY sort DESC, id
DESC LIMIT n + 1``: the cost does not grow with the depth of the page, and rows that
arrive meanwhile never shift a page (no entry is skipped or shown twice).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from app.extensions import db

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class InvalidCursor(ValueError):
    """The cursor in the URL is not one this portal made."""


def _encode_value(value):
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    return value


def _decode_value(value):
    if isinstance(value, dict):
        if "dt" in value:
            return datetime.fromisoformat(value["dt"])
        if "d" in value:
            return date.fromisoformat(value["d"])
        raise InvalidCursor("unknown value in cursor")
    return value


def encode_cursor(values: Sequence) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = [_decode_value(v) for v in json.loads(raw)]
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("malformed cursor") from exc
    if len(values) != width or not all(isinstance(v, (int, float, str, datetime, date)) for v in values):
        raise InvalidCursor("cursor does not fit this list")
    return values


@dataclass(frozen=True)
class Page:
    items: list
    prev: str | None  # cursor of the page before this one (towards the top of the list)
    next: str | None  # cursor of the page after this one


@dataclass(frozen=True)
class Keyset:
    """An ordering by one or more indexed columns, the last of them unique (usually the id)."""

    columns: tuple[InstrumentedAttribute, ...]
    descending: bool = True

    def _key(self, item) -> list:
        return [getattr(item, column.key) for column in self.columns]

    def page(self, query: Select, *, cursor: str | None = None, direction: str = "next",
             size: int = DEFAULT_PAGE_SIZE) -> Page:
        """One page of ``query`` after (``next``) or before (``prev``) the cursor.

        Raises :class:`InvalidCursor` for a cursor that was not made by this ordering.
        """

        def fetch(beyond, start, order, limit):
            bounded = query if start is None else query.where(beyond(start))
            return list(db.session.scalars(bounded.order_by(*order).limit(limit)))

        return self.page_with(fetch, cursor=cursor, direction=direction, size=size)

    def page_with(self, fetch: Callable[..., list], *, cursor: str | None = None, direction: str = "next",
                  size: int = DEFAULT_PAGE_SIZE) -> Page:
        """Like :meth:`page`, for queries that need more than one ``WHERE`` (unions, search).

        ``fetch(beyond, start, order, limit)`` returns up to ``limit`` rows in ``order``
        whose key lies beyond ``start`` (the cursor's values, None on the first page);
        ``beyond(values)`` is the SQL condition "key lies beyond these values".
        """
        size = max(1, min(int(size), MAX_PAGE_SIZE))
        key = tuple_(*self.columns)
        forward = direction != "prev"
        toward_end = forward == self.descending  # True when walking towards smaller keys

        def beyond(values):
            return key < tuple_(*values) if toward_end else key > tuple_(*values)

        start = decode_cursor(cursor, len(self.columns)) if cursor else None
        order = [c.desc() if toward_end else c.asc() for c in self.columns]
        rows = fetch(beyond, start, order, size + 1)
        more = len(rows) > size
        rows = rows[:size]
        if not forward:
            rows.reverse()
        if not rows:
            return Page([], None, None)
        first, last = encode_cursor(self._key(rows[0])), encode_cursor(self._key(rows[-1]))
        if forward:
            return Page(rows, first if cursor else None, last if more else None)
        return Page(rows, first if more else None, last)
