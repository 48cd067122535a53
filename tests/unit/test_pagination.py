"""Keyset pagination in both directions, on one column and on two."""

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.database import utcnow
from app.pagination import InvalidCursor, Keyset, decode_cursor, encode_cursor
from app.platform.models import Institution


@pytest.fixture
def institutions(db):
    start = utcnow()
    rows = [Institution(code=f"K{n:03d}", name=f"Keyset {n}", created_at=start + timedelta(minutes=n % 5))
            for n in range(23)]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def walk(keyset, query, size):
    pages, page = [], keyset.page(query, size=size)
    while True:
        pages.append(page)
        if not page.next:
            return pages
        page = keyset.page(query, cursor=page.next, size=size)


def test_pages_forward_and_back_by_id(institutions):
    keyset = Keyset((Institution.id,))
    query = select(Institution)
    pages = walk(keyset, query, 10)
    ids = [i.id for p in pages for i in p.items]
    assert ids == sorted((i.id for i in institutions), reverse=True)
    assert [len(p.items) for p in pages] == [10, 10, 3]
    assert pages[0].prev is None and pages[-1].next is None
    back = keyset.page(query, cursor=pages[2].prev, direction="prev", size=10)
    assert [i.id for i in back.items] == [i.id for i in pages[1].items]
    first = keyset.page(query, cursor=back.prev, direction="prev", size=10)
    assert [i.id for i in first.items] == [i.id for i in pages[0].items] and first.prev is None


def test_two_column_ordering_ascending(institutions):
    keyset = Keyset((Institution.created_at, Institution.id), descending=False)
    pages = walk(keyset, select(Institution), 4)
    seen = [(i.created_at, i.id) for p in pages for i in p.items]
    assert seen == sorted(seen) and len(seen) == 23


def test_empty_result(db):
    page = Keyset((Institution.id,)).page(select(Institution))
    assert page.items == [] and page.prev is None and page.next is None


def _unsigned(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("make", [
    lambda: "%%%",
    lambda: "bm90IGpzb24",
    lambda: _unsigned([1]),  # the old unsigned form: no longer accepted
    lambda: encode_cursor([1]) + "x",  # tampered signature
    lambda: encode_cursor([1, 2]),  # another list's width
    lambda: encode_cursor([{"x": 1}]),
    lambda: encode_cursor(["abc"]),  # signed, but not a whole number for an id column
    lambda: encode_cursor([True]),
    lambda: encode_cursor([1.5]),
    lambda: encode_cursor([10**30]),
    lambda: encode_cursor([[1]]),
    lambda: "A" * 5000,
])
def test_foreign_cursors_are_refused(db, make):
    with pytest.raises(InvalidCursor):
        Keyset((Institution.id,)).page(select(Institution), cursor=make())


def test_a_cursor_signed_with_another_key_is_refused(app, db):
    cursor = encode_cursor([1])
    original = app.secret_key
    app.secret_key = "another secret key of at least thirty-two characters"
    try:
        with pytest.raises(InvalidCursor):
            decode_cursor(cursor, (Institution.id,))
    finally:
        app.secret_key = original


def test_cursor_round_trip(db):
    now = utcnow()
    assert decode_cursor(encode_cursor([now, 5]), (Institution.created_at, Institution.id)) == [now, 5]


def test_cursor_types_follow_the_columns(db):
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor([5, utcnow()]), (Institution.created_at, Institution.id))
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor([{"dt": "not a time"}, 5]), (Institution.created_at, Institution.id))
