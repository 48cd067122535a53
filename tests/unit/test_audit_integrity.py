"""Integrity: every kind of tampering is named, checkpoints and anchors catch a rewritten
chain, the verification is recorded, and the retention purge keeps the rest verifiable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text

from app.audit import integrity, retention
from app.audit import services as audit
from app.audit.chain import HASHED_FIELDS, entry_hash, walk
from app.audit.models import GENESIS_HASH, AuditLog, AuditVerification
from app.database import utcnow
from app.security.actor import Actor
from app.users.models import Role

ACTOR = Actor(user_id=3, email="ops@example.com", role="admin", ip="10.0.0.3", request_id="req-integrity1")


def entries(db) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).order_by(AuditLog.id)))


def write(db, count: int, *, days_ago: float | None = None, **fields) -> None:
    for n in range(count):
        when = None if days_ago is None else utcnow() - timedelta(days=days_ago, minutes=count - n)
        audit.log(ACTOR, "USER_UPDATE", description=f"change {n}", occurred_at=when,
                  changes={"n": {"before": n, "after": n + 1}}, **fields)
    db.session.commit()


def rechain_from(db, first_id: int) -> None:
    """What a careful attacker does after an edit: recompute every hash from there on."""
    rows = db.session.execute(text(
        f"SELECT id, prev_hash, {', '.join(HASHED_FIELDS)} FROM audit_logs WHERE id >= :id ORDER BY id"),
        {"id": first_id}).all()
    prev = db.session.scalar(text("SELECT hash FROM audit_logs WHERE id < :id ORDER BY id DESC LIMIT 1"),
                             {"id": first_id}) or GENESIS_HASH
    for row in rows:
        values = list(row[2:])
        values[0] = datetime.fromisoformat(values[0]).replace(tzinfo=UTC)
        changes = HASHED_FIELDS.index("changes")
        values[changes] = json.loads(values[changes]) if values[changes] else None
        digest = entry_hash(prev, values)
        db.session.execute(text("UPDATE audit_logs SET prev_hash = :p, hash = :h WHERE id = :id"),
                           {"p": prev, "h": digest, "id": row[0]})
        prev = digest


def test_a_modified_entry_is_named(db):
    write(db, 4)
    second = entries(db)[1]
    db.session.execute(text("UPDATE audit_logs SET ip = '6.6.6.6' WHERE id = :id"), {"id": second.id})
    report = integrity.verify_chain()
    assert (report.first_break.kind, report.first_break.entry_id, report.checked) == ("modified", second.id, 1)


def test_a_modified_change_record_is_named(db):
    write(db, 3)
    third = entries(db)[2]
    db.session.execute(text("UPDATE audit_logs SET changes = :c WHERE id = :id"),
                       {"c": '{"n":{"after":99,"before":2}}', "id": third.id})
    assert integrity.verify_chain().first_break.entry_id == third.id


def test_equivalent_json_spelling_is_not_tampering(db):
    write(db, 2)
    first = entries(db)[0]
    db.session.execute(text("UPDATE audit_logs SET changes = :c WHERE id = :id"),
                       {"c": '{"n": {"before": 0, "after": 1}}', "id": first.id})
    assert integrity.verify_chain().ok


def test_a_deleted_entry_is_named(db):
    write(db, 4)
    _first, second, third, _fourth = entries(db)
    db.session.execute(text("DELETE FROM audit_logs WHERE id = :id"), {"id": second.id})
    report = integrity.verify_chain()
    assert (report.first_break.kind, report.first_break.entry_id) == ("deleted", third.id)


def test_an_inserted_entry_is_named(db):
    write(db, 3)
    first, second, _third = entries(db)
    forged = {name: getattr(second, name) for name in HASHED_FIELDS}
    forged["description"] = "a forged entry"
    digest = entry_hash(first.hash, [forged[name] for name in HASHED_FIELDS])
    db.session.execute(text("UPDATE audit_logs SET id = id + 100 WHERE id > :id"), {"id": first.id})
    db.session.execute(insert(AuditLog).values(id=first.id + 1, prev_hash=first.hash, hash=digest, **forged))
    report = integrity.verify_chain()
    assert (report.first_break.kind, report.first_break.entry_id) == ("inserted", first.id + 1)


def test_a_rewritten_chain_is_caught_by_its_checkpoint_entry(db, runner):
    write(db, 3)
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    write(db, 2)
    first = entries(db)[0]
    db.session.execute(text("UPDATE audit_logs SET description = 'nothing happened' WHERE id = :id"),
                       {"id": first.id})
    rechain_from(db, first.id)
    report = integrity.verify_chain()
    assert report.first_break.kind == "rewritten" and "checkpoint entry" in report.first_break.detail


def test_a_rewrite_that_fixes_checkpoints_too_is_caught_by_an_external_anchor(db, runner, tmp_path):
    anchors = tmp_path / "anchors.jsonl"
    write(db, 3)
    result = runner.invoke(args=["audit", "checkpoint", "--anchor-file", str(anchors)])
    line = json.loads(result.output)
    assert json.loads(anchors.read_text()) == line and line["head_id"] == entries(db)[2].id
    write(db, 2)
    assert runner.invoke(args=["audit", "verify", "--anchors", str(anchors)]).exit_code == 0
    # Rewrite everything, recomputing even the checkpoint's recorded head.
    first = entries(db)[0]
    db.session.execute(text("UPDATE audit_logs SET description = 'nothing happened' WHERE id = :id"),
                       {"id": first.id})
    rechain_from(db, first.id)
    checkpoint = db.session.scalars(select(AuditLog).where(AuditLog.action == "AUDIT_CHECKPOINT")).one()
    head = entries(db)[2]
    db.session.execute(text("UPDATE audit_logs SET changes = :c WHERE id = :id"),
                       {"c": json.dumps({"head_id": head.id, "head_hash": head.hash}), "id": checkpoint.id})
    rechain_from(db, checkpoint.id)
    assert integrity.verify_chain().ok  # the chain alone cannot tell any more
    result = runner.invoke(args=["audit", "verify", "--anchors", str(anchors)])
    assert result.exit_code == 1 and f"entry {line['id']} no longer has the hash recorded outside" in result.output


def test_a_truncated_tail_is_caught_by_an_anchor(db):
    write(db, 3)
    last = entries(db)[-1]
    db.session.execute(text("DELETE FROM audit_logs WHERE id = :id"), {"id": last.id})
    assert integrity.verify_chain().ok
    report = integrity.verify_chain(anchors=[integrity.Anchor(last.id, last.hash)])
    assert report.first_break.kind == "deleted" and report.first_break.entry_id == last.id


def test_verify_records_its_run_and_the_page_shows_it(db, runner, make_user, client_for):
    write(db, 3)
    ok = runner.invoke(args=["audit", "verify", "--expect", f"{entries(db)[1].id}:{entries(db)[1].hash}"])
    assert ok.exit_code == 0 and "1 of 1 anchors matched" in ok.output and "entries/s" in ok.output
    page = client_for(make_user(Role.ADMIN)).get("/audit").get_data(as_text=True)
    assert "Chain intact" in page
    broken_id = entries(db)[1].id
    db.session.execute(text("UPDATE audit_logs SET result = 'failure' WHERE id = :id"), {"id": broken_id})
    failed = runner.invoke(args=["audit", "verify"])
    assert failed.exit_code == 1 and f"entry {broken_id} does not match its hash" in failed.output
    run = db.session.scalars(select(AuditVerification).order_by(AuditVerification.id.desc())).first()
    assert (run.ok, run.break_entry_id, run.break_kind, run.source) == (False, broken_id, "modified", "cli")
    page = client_for(make_user(Role.ADMIN)).get("/audit").get_data(as_text=True)
    assert "Chain broken" in page and f"entry {broken_id} was modified" in page
    detail = client_for(make_user(Role.ADMIN)).get(f"/audit/{entries(db)[0].id}").get_data(as_text=True)
    assert "Covered by the verification" in detail


@pytest.mark.parametrize("args", [["--expect", "12"], ["--expect", "1:not-a-hash"], ["--anchors", "/nonexistent"]])
def test_bad_anchors_are_a_usage_error(db, runner, args):
    assert runner.invoke(args=["audit", "verify", *args]).exit_code == 2


def test_a_checkpoint_is_alone_in_its_transaction(db):
    audit.log(ACTOR, "USER_UPDATE")
    with pytest.raises(integrity.CheckpointError):
        integrity.write_checkpoint(ACTOR)
    db.session.rollback()


def count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditLog))


def test_purge_removes_old_entries_leaving_a_verifiable_chain(db, runner, make_user, client_for):
    write(db, 7, days_ago=400)
    write(db, 3, days_ago=10)
    old = [(e.id, e.hash) for e in entries(db)[:7]]
    dry = runner.invoke(args=["audit", "purge", "--days", "365", "--dry-run"])
    assert dry.exit_code == 0 and "Removing 7 entries" in dry.output and count(db) == 10
    declined = runner.invoke(args=["audit", "purge", "--days", "365"], input="n\n")
    assert declined.exit_code == 1 and count(db) == 10
    result = runner.invoke(args=["audit", "purge", "--days", "365", "--yes", "--batch-size", "100"])
    assert result.exit_code == 0, result.output
    assert "removed 7 entries" in result.output
    kept = entries(db)
    assert [e.action for e in kept] == ["USER_UPDATE"] * 3 + ["AUDIT_PURGE"]
    checkpoint = kept[-1].changes
    assert checkpoint["removed"] == 7 and checkpoint["first_id"] == old[0][0]
    assert (checkpoint["last_id"], checkpoint["last_hash"]) == old[-1]
    assert integrity.verify_chain().ok and integrity.verify_chain().checked == 4
    detail = client_for(make_user(Role.ADMIN)).get(f"/audit/{kept[0].id}").get_data(as_text=True)
    assert "it continues the chain where the last retention purge ended" in detail
    again = runner.invoke(args=["audit", "purge", "--days", "365", "--yes"])
    assert again.exit_code == 0 and "Nothing to remove" in again.output


def test_purge_uses_the_retention_setting_and_refuses_silly_days(db, runner):
    write(db, 2, days_ago=400)
    assert runner.invoke(args=["audit", "purge", "--days", "3", "--yes"]).exit_code == 2
    result = runner.invoke(args=["audit", "purge", "--yes"])  # the setting's default: 365 days
    assert result.exit_code == 0 and "removed 2 entries" in result.output


def test_purge_refuses_to_destroy_evidence_of_tampering(db, runner):
    write(db, 5, days_ago=400)
    victim = entries(db)[2]
    db.session.execute(text("UPDATE audit_logs SET description = 'edited' WHERE id = :id"), {"id": victim.id})
    result = runner.invoke(args=["audit", "purge", "--days", "365", "--yes"])
    assert result.exit_code == 1 and "REFUSED" in result.output and f"entry {victim.id}" in result.output
    assert count(db) == 5


def test_an_interrupted_purge_still_verifies_and_is_finished_by_the_next_run(db, runner):
    write(db, 6, days_ago=400)
    write(db, 2, days_ago=1)
    plan = retention.plan_purge(days=365)
    retention.record_purge(Actor.system("cli"), plan)
    db.session.commit()
    assert retention.delete_batch(plan, batch_size=4) == 4  # then the process dies
    db.session.commit()
    assert integrity.verify_chain().ok  # the two leftovers still lead to the recorded hash
    leftover = entries(db)[0]
    db.session.execute(text("UPDATE audit_logs SET description = 'edited' WHERE id = :id"), {"id": leftover.id})
    rechain_from(db, leftover.id)
    report = integrity.verify_chain()
    assert report.first_break.kind == "rewritten"
    db.session.rollback()

    result = runner.invoke(args=["audit", "purge", "--yes"])
    assert "Finishing an interrupted purge of 2 entries" in result.output and count(db) == 3
    assert integrity.verify_chain().ok


def test_anchors_of_purged_entries_pass_only_when_they_were_old_enough(db):
    write(db, 4, days_ago=400)
    write(db, 1, days_ago=1)
    old = entries(db)[1]
    old_id, old_hash = old.id, old.hash
    plan = retention.plan_purge(days=365)
    retention.record_purge(Actor.system("cli"), plan)
    while retention.delete_batch(plan):
        pass
    db.session.commit()
    long_ago = integrity.Anchor(old_id, old_hash, utcnow() - timedelta(days=399))
    assert integrity.verify_chain(anchors=[long_ago]).ok
    recent = integrity.Anchor(old_id, old_hash, utcnow() - timedelta(days=2))
    assert integrity.verify_chain(anchors=[recent]).first_break.kind == "deleted"


def test_entries_missing_with_their_purge_anchor_are_named(db):
    write(db, 4, days_ago=400)
    plan = retention.plan_purge(days=365)
    retention.record_purge(Actor.system("cli"), plan)
    db.session.commit()
    retention.delete_batch(plan, batch_size=1)
    # Someone removes the entry the checkpoint vouches for, leaving the other leftovers.
    db.session.execute(text("DELETE FROM audit_logs WHERE id = :id"), {"id": plan.last_id})
    checkpoint_id = entries(db)[-1].id
    report = integrity.verify_chain()
    assert (report.first_break.kind, report.first_break.entry_id) == ("deleted", checkpoint_id)
    # And if the checkpoint went too, the walk still notices that the anchored entry never came.
    rows = [tuple(r) for r in integrity.chain_rows() if r[0] < plan.last_id]
    report = walk(rows, resume=(plan.last_id, plan.last_hash))
    assert (report.first_break.kind, report.first_break.entry_id) == ("deleted", plan.last_id)


def test_parse_anchor_forms():
    digest = "a" * 64
    assert integrity.parse_anchor(f" 12:{digest} ") == integrity.Anchor(12, digest)
    line = integrity.parse_anchor(json.dumps({"id": 3, "hash": digest, "at": "2026-01-01T00:00:00+00:00"}))
    assert line.recorded_at == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(integrity.AnchorError):
        integrity.parse_anchor('{"id": 1}')
