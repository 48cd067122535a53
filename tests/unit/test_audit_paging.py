"""Property: walking the audit log page by page never skips or repeats an entry, even while
new entries arrive between pages (hypothesis). tests/integration runs it on PostgreSQL too."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from app.audit import queries
from app.audit.filters import AuditFilter
from app.audit.models import AuditLog

BASE = datetime(2026, 3, 1, tzinfo=UTC)
ACTIONS = ("USER_UPDATE", "LOGIN_FAILURE", "TRANSACTION_APPROVE")
FILTERS = {
    "everything": AuditFilter(),
    "one action": AuditFilter(actions=("LOGIN_FAILURE",)),
    "two actions": AuditFilter(actions=("USER_UPDATE", "TRANSACTION_APPROVE")),
    "actor with impersonation": AuditFilter(actor_id=5),
    "search": AuditFilter(q="needle", terms=("needle",)),
}
_serial = itertools.count()


def _row(minute: int, n: int) -> dict:
    """An entry at BASE + ``minute`` (many share a minute, so the id breaks ties)."""
    return {
        "created_at": BASE + timedelta(minutes=minute), "actor_id": (5, 6, None)[n % 3],
        "actor_email": f"actor{n % 3}@example.com", "impersonator_id": 5 if n % 7 == 0 else None,
        "action": ACTIONS[n % 3], "description": "needle in a haystack" if n % 2 else "hay",
        "result": "success", "prev_hash": "0" * 64, "hash": f"{n:064d}",
    }


def _add(db, minutes: list[int]) -> None:
    if minutes:
        db.session.execute(insert(AuditLog), [_row(m, next(_serial)) for m in minutes])


def _matching(db, f: AuditFilter) -> set[int]:
    query = select(AuditLog.id).where(*queries.criteria(f, None).where())
    return set(db.session.scalars(query))


def check_paging(db, f: AuditFilter, initial: list[int], size: int, arrivals: list[list[int]]) -> None:
    """Walk older from the first page, adding ``arrivals[i]`` after page i; then walk back newer."""
    with db.session.begin_nested() as nested:
        _add(db, initial)
        before = _matching(db, f)
        seen, pages, cursor = [], [], None
        for step in itertools.count():
            page = queries.page(f, None, cursor=cursor, size=size)
            pages.append(page)
            seen += [e.id for e in page.items]
            _add(db, arrivals[step] if step < len(arrivals) else [])
            if not page.next:
                break
            assert step <= len(initial) + sum(map(len, arrivals)), "the pager does not advance"
            cursor = page.next
        assert len(seen) == len(set(seen)), "an entry was shown twice"
        assert before <= set(seen), f"entries skipped: {sorted(before - set(seen))}"
        keys = [(e.created_at, e.id) for p in pages for e in p.items]
        assert keys == sorted(keys, reverse=True), "pages are not newest first"

        back, cursor = [], pages[-1].prev
        while cursor:
            page = queries.page(f, None, cursor=cursor, direction="prev", size=size)
            back = [e.id for e in page.items] + back
            cursor = page.prev
            assert len(back) <= len(seen) + sum(map(len, arrivals)), "walking back does not end"
        walked = [e.id for e in pages[-1].items]
        assert len(back) == len(set(back)) and not set(back) & set(walked)
        assert set(seen) - set(walked) <= set(back), "walking back skipped an entry"
        nested.rollback()


minutes = st.integers(min_value=0, max_value=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(sorted(FILTERS)),
    initial=st.lists(minutes, min_size=0, max_size=45),
    size=st.integers(min_value=1, max_value=9),
    arrivals=st.lists(st.lists(st.integers(min_value=-5, max_value=60), max_size=6), max_size=12),
)
def test_pages_never_skip_or_repeat_while_entries_arrive(db, name, initial, size, arrivals):
    check_paging(db, FILTERS[name], initial, size, arrivals)
