"""The audit log on the real PostgreSQL: the append-only trigger, trigram search (both
strategies), union paging, EXPLAIN estimates, the streaming cursor of exports, the fast
verification path, tampering under the trigger, and the purge path."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select, text
from sqlalchemy.exc import DBAPIError

from app.audit import export, integrity, queries, retention
from app.audit import services as audit
from app.audit.filters import AuditFilter
from app.audit.models import AuditLog, canonical_json
from app.database import utcnow
from app.security.actor import Actor
from app.users.models import Role
from tests.unit.test_audit_paging import FILTERS, check_paging

pytestmark = pytest.mark.integration

ACTOR = Actor(user_id=4, email="pg@example.com", role="admin", ip="10.1.1.1", request_id="req-postgres-1")


def write(db, descriptions, **fields):
    for description in descriptions:
        audit.log(ACTOR, "USER_UPDATE", description=description, changes={"k": {"before": 1, "after": 2}}, **fields)
    db.session.commit()


def every_page(f: AuditFilter, size: int) -> list[int]:
    """The ids of every entry the filter lists, following the pages' cursors to the end."""
    seen, cursor = [], None
    while True:
        page = queries.page(f, None, cursor=cursor, size=size)
        seen += [row.id for row in page.items]
        if not page.next:
            return seen
        cursor = page.next


def test_the_change_is_written_before_the_chain_lock_is_taken(db, make_user):
    """The chain lock is held from the append to the commit only, never while the change's
    own statements wait (for a row lock, say): other writers are not kept from the chain."""
    user = make_user(Role.ADMIN)
    user.audit_repr()  # loaded now, so that nothing below reads (and so flushes) before the commit
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        user.display_name = "Renamed"
        entry = audit.log(ACTOR, "USER_UPDATE", resource=user, description="renamed")
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    update = next(i for i, statement in enumerate(statements) if statement.startswith("UPDATE users"))
    append = next(i for i, statement in enumerate(statements) if "audit_append" in statement)
    assert update < append
    assert entry.id == db.session.scalar(select(AuditLog.id).where(AuditLog.description == "renamed"))
    assert integrity.verify_chain().ok


@pytest.mark.parametrize("statement", [
    "UPDATE audit_logs SET description = 'edited'",
    "DELETE FROM audit_logs",
    "TRUNCATE audit_logs",
])
def test_the_trigger_refuses_changes_to_the_log(db, statement):
    write(db, ["one", "two"])
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(text(statement))
    assert len(db.session.scalars(select(AuditLog)).all()) == 2


def test_only_the_purge_path_may_delete(db):
    write(db, ["old"])
    with db.session.begin_nested():
        db.session.execute(text("SELECT set_config('saintara.audit_purge', 'on', true)"))
        db.session.execute(text("DELETE FROM audit_logs"))
    assert db.session.scalars(select(AuditLog)).all() == []


def test_tampering_past_the_trigger_is_still_detected(db):
    """A superuser can switch triggers off; the chain still tells."""
    write(db, ["a", "b", "c"])
    second = db.session.scalars(select(AuditLog).order_by(AuditLog.id)).all()[1]
    db.session.execute(text("SET LOCAL session_replication_role = replica"))
    db.session.execute(text("UPDATE audit_logs SET actor_email = 'mallory' WHERE id = :id"), {"id": second.id})
    db.session.execute(text("SET LOCAL session_replication_role = origin"))
    report = integrity.verify_chain()
    assert (report.first_break.kind, report.first_break.entry_id) == ("modified", second.id)


def test_changes_are_stored_canonically_and_old_spellings_still_verify(db):
    write(db, ["x"])
    stored = db.session.scalar(text("SELECT changes::text FROM audit_logs"))
    assert stored == canonical_json({"k": {"before": 1, "after": 2}})
    db.session.execute(text("SET LOCAL session_replication_role = replica"))
    db.session.execute(text("""UPDATE audit_logs SET changes = '{"k": {"after": 2, "before": 1}}'"""))
    assert integrity.verify_chain().ok
    rows = list(integrity.chain_rows(batch_size=2))
    assert isinstance(rows[0][3], str) and rows[0][3].endswith("Z")  # timestamps come as hashed text


def test_the_search_expression_is_served_by_the_trigram_index(db):
    write(db, ["find the needle"])
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    condition = queries.search_conditions(("needle",))[0]
    query = select(AuditLog.id).where(condition)
    compiled = query.compile(dialect=db.session.get_bind().dialect)
    plan = db.session.connection().exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).all()
    assert "ix_audit_logs_search" in " ".join(row[0] for row in plan)


@pytest.mark.parametrize("rare", [True, False])
def test_search_pages_with_either_strategy(db, monkeypatch, rare):
    monkeypatch.setattr(queries, "SEARCH_WINDOW", 4)  # so that the index is asked beyond the window
    monkeypatch.setattr(queries, "RARE_ESTIMATE", 10**9 if rare else -1)
    write(db, [f"{'needle' if n % 3 == 0 else 'hay'} {n}" for n in range(30)])
    f = AuditFilter(q="NEEDLE", terms=("needle",))
    expected = [e.id for e in db.session.scalars(
        select(AuditLog).where(AuditLog.description.like("needle%")).order_by(AuditLog.id.desc()))]
    seen = every_page(f, size=3)
    assert seen == expected and len(seen) == 10


@pytest.mark.parametrize("rare", [True, False])
def test_a_word_inside_sealed_text_does_not_match(db, monkeypatch, rare):
    """Sealed values are ciphertext: the search document leaves them out, in the trigram index
    and in the window of newest rows alike, so a short word cannot match them by chance."""
    monkeypatch.setattr(queries, "RARE_ESTIMATE", 10**9 if rare else -1)
    write(db, ["paid s1~7~abcNeeDLExyz to the bank", "needle in the open", "s1~8~NEEDLE"])
    f = AuditFilter(q="needle", terms=("needle",))
    assert [row.description for row in queries.page(f, None).items] == ["needle in the open"]
    assert queries.page(AuditFilter(q="bank", terms=("bank",)), None).items[0].description.startswith("paid")


def test_several_actions_and_an_actor_are_paged_by_union(db):
    write(db, ["a"] * 3)
    audit.log(Actor(user_id=9, email="c@example.com", impersonator_id=4, impersonator_email="pg@example.com"),
              "LOGIN_FAILURE", result="failure")
    audit.log(ACTOR, "TRANSACTION_APPROVE")
    db.session.commit()
    f = AuditFilter(actor_id=4, actions=("LOGIN_FAILURE", "TRANSACTION_APPROVE"))
    page = queries.page(f, None, size=1)
    assert len(queries.criteria(f, None).alternatives) == 4
    nxt = queries.page(f, None, cursor=page.next, size=1)
    assert [e.action for e in page.items + nxt.items] == ["TRANSACTION_APPROVE", "LOGIN_FAILURE"]
    assert nxt.next is None


def test_the_total_is_estimated_by_the_planner(db):
    write(db, ["a", "b"])
    estimate = queries.estimate_total(AuditFilter(), None)
    assert not estimate.exact and estimate.count >= 1


def test_an_actor_filter_is_estimated_and_listed(db):
    """The actor's address is matched in every form it is stored in (a list of values): the
    planner is asked about the query with that list written out."""
    for description in ("a", "b"):
        audit.log(Actor(user_id=None, email="cron@example.com"), "USER_UPDATE", description=description)
    db.session.commit()
    f = AuditFilter(actor_email="cron@example.com")
    estimate = queries.estimate_total(f, None)
    assert not estimate.exact and estimate.count >= 1
    assert len(queries.page(f, None, estimate=estimate).items) == 2


def test_an_accounts_address_is_listed_in_both_forms_by_union(db, make_user):
    """Typed for an account, an address is looked for as typed and as sealed for the account:
    one ordered walk of the actor index each (an IN list would sort every entry of the actor)."""
    person = make_user(Role.ADMIN, email="union.actor@example.com")
    audit.log(Actor(user_id=None, email=person.email), "USER_UPDATE", description="as typed")
    for n in range(3):
        audit.log(Actor(user_id=person.id, email=person.email), "USER_UPDATE", description=f"sealed {n}")
    db.session.commit()
    f = AuditFilter(actor_email=person.email)
    assert len(queries.criteria(f, None).alternatives) == 2
    seen = every_page(f, size=2)
    expected = db.session.scalars(select(AuditLog.id).where(AuditLog.action == "USER_UPDATE",
                                                            AuditLog.description.in_(["as typed", "sealed 0",
                                                                                      "sealed 1", "sealed 2"]))
                                  .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())).all()
    assert seen == expected and len(seen) == 4


def test_exports_stream_from_a_server_side_cursor(db):
    write(db, [f"row {n}" for n in range(30)])
    query = export.export_query(AuditFilter(), None)
    rows = export.stream_rows(query, db.session.get_bind(), yield_per=5)
    first = next(rows)
    open_cursors = db.session.execute(text("SELECT count(*) FROM pg_cursors")).scalar()
    rest = list(rows)
    assert open_cursors >= 1 and len(rest) == 29 and first[0] > rest[0][0]
    line = json.loads(export._jsonl_line(first))
    assert line["changes"] == {"k": {"before": 1, "after": 2}} and line["created_at"].endswith("Z")


def test_purge_on_postgresql_goes_through_the_trigger(db, runner):
    for n in range(5):
        audit.log(ACTOR, "USER_UPDATE", description=f"old {n}", occurred_at=utcnow() - timedelta(days=500 - n))
    write(db, ["recent"])
    result = runner.invoke(args=["audit", "purge", "--yes", "--batch-size", "2"])
    assert result.exit_code == 0 and "removed 5 entries" in result.output, result.output
    assert [e.action for e in db.session.scalars(select(AuditLog).order_by(AuditLog.id))] == [
        "USER_UPDATE", "AUDIT_PURGE"]
    assert integrity.verify_chain().ok
    plan = retention.plan_purge(days=365)
    assert plan.is_empty


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(FILTERS)), initial=st.lists(st.integers(0, 30), max_size=30),
       size=st.integers(1, 7), arrivals=st.lists(st.lists(st.integers(-5, 40), max_size=4), max_size=8))
def test_pages_never_skip_or_repeat_on_postgresql(db, name, initial, size, arrivals):
    check_paging(db, FILTERS[name], initial, size, arrivals)
