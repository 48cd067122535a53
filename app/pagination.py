"""Keyset (cursor) pagination: pages by position, never by OFFSET, and no COUNT(*).

A page is found with ``WHERE (sort, id) < (last_sort, last_id) ORDER BY sort DESC, id
DESC LIMIT n + 1``: the cost does not grow with the depth of the page, and rows that
arrive meanwhile never shift a page (no entry is skipped or shown twice).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from app.extensions import db

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class InvalidCursor(ValueError):
    """The cursor in the URL is not one this portal made for this list."""


MAX_CURSOR_LENGTH = 1000
_LIMITS = {int: 2**63}


def _serializer() -> URLSafeSerializer:
    # HMAC-SHA256 with the app's secret: a cursor is opaque, and one not made here is refused
    # before any of its values reaches SQL.
    return URLSafeSerializer(current_app.secret_key, salt="keyset-cursor",
                             signer_kwargs={"digest_method": hashlib.sha256})


def _encode_value(value):
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    return value


def _decode_value(value, expected: type | None):
    if isinstance(value, dict):
        if set(value) == {"dt"} and isinstance(value["dt"], str):
            value = datetime.fromisoformat(value["dt"])
        elif set(value) == {"d"} and isinstance(value["d"], str):
            value = date.fromisoformat(value["d"])
        else:
            raise InvalidCursor("unknown value in cursor")
    if expected is None:
        ok = isinstance(value, (int, float, str, datetime, date)) and not isinstance(value, bool)
    elif expected is date:
        ok = type(value) is date
    else:
        ok = isinstance(value, expected) and not isinstance(value, bool)
    if not ok or (type(value) is int and abs(value) >= _LIMITS[int]):
        raise InvalidCursor("cursor does not fit this list")
    return value


def _python_type(column) -> type | None:
    try:
        return column.type.python_type
    except (AttributeError, NotImplementedError):
        return None


def encode_cursor(values: Sequence) -> str:
    """An opaque, signed cursor for one row's sort key."""
    return _serializer().dumps([_encode_value(v) for v in values])


def decode_cursor(cursor: str, columns: Sequence) -> list:
    """The sort key in ``cursor``, checked against the types of ``columns``.

    Raises :class:`InvalidCursor` for a cursor that was not signed here, or whose values do
    not fit the columns (another list's cursor).
    """
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("malformed cursor")
    try:
        values = _serializer().loads(cursor)
    except BadData as exc:
        raise InvalidCursor("cursor not signed by this portal") from exc
    if not isinstance(values, list) or len(values) != len(columns):
        raise InvalidCursor("cursor does not fit this list")
    try:
        return [_decode_value(v, _python_type(c)) for v, c in zip(values, columns, strict=True)]
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("cursor does not fit this list") from exc


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

        start = decode_cursor(cursor, self.columns) if cursor else None
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
