"""The audit write path: same transaction as the change, chained, masked, verified."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import select, text

from app.audit import integrity
from app.audit import services as audit
from app.audit.chain import HASHED_FIELDS, walk
from app.audit.models import GENESIS_HASH, AuditLog
from app.database import transaction
from app.personal_data import vault
from app.platform.models import Institution
from app.security.actor import Actor

ACTOR = Actor(user_id=7, email="ops@example.com", role="admin", ip="10.0.0.1", request_id="req-12345678")


def entries(db):
    return db.session.scalars(select(AuditLog).order_by(AuditLog.id)).all()


def test_entry_is_written_with_the_change_and_chained(db):
    institution = Institution(code="BNI", name="Bank Nusantara")
    db.session.add(institution)
    audit.log(ACTOR, "INSTITUTION_CREATE", resource=institution, description="created",
              changes=audit.diff({}, {"name": "Bank Nusantara"}))
    audit.log(ACTOR, "INSTITUTION_UPDATE", resource=institution, changes={"name": {"before": "a", "after": "b"}})
    assert entries(db) == []  # queued until commit
    db.session.commit()
    first, second = entries(db)
    assert first.resource_type == "institution" and first.resource_id == str(institution.id)
    assert first.institution_id == institution.id and first.resource_repr == "Bank Nusantara (BNI)"
    # The actor's address is stored sealed under their key (app.personal_data.vault).
    assert vault.is_sealed(first.actor_email) and vault.reveal(first.actor_email) == "ops@example.com"
    assert first.ip == "10.0.0.1" and first.request_id == "req-12345678"
    assert first.changes == {"name": {"before": None, "after": "Bank Nusantara"}}
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
    assert integrity.verify_chain().ok
    assert audit.chain_head() == (second.id, second.hash)


def test_rollback_discards_the_entry_with_the_change(db):
    db.session.add(Institution(code="X1", name="Rolled back"))
    audit.log(ACTOR, "INSTITUTION_CREATE", resource_type="institution", description="will roll back")
    db.session.rollback()
    db.session.commit()
    assert entries(db) == []
    assert db.session.scalars(select(Institution)).all() == []


def test_refused_attempts_survive_the_rollback_of_their_transaction(db):
    try:
        with transaction():
            audit.log(ACTOR, "LOGIN_FAILURE", result="failure", description="refused")
            audit.log(ACTOR, "USER_UPDATE", description="a change that must not be kept")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert [(e.action, e.result) for e in entries(db)] == [("LOGIN_FAILURE", "failure")]


def test_secrets_are_masked_and_values_made_json_safe(db):
    from datetime import datetime
    from decimal import Decimal

    audit.log(ACTOR, "USER_UPDATE", changes={
        "password_hash": {"before": "$argon2id$old", "after": "$argon2id$new"},
        "totp_secret": {"before": None, "after": "JBSWY3DPEHPK3PXP"},
        "api_token": "tok_live_123",
        "limit": {"before": Decimal("1.50"), "after": datetime(2026, 1, 2, tzinfo=UTC)},
    })
    db.session.commit()
    (entry,) = entries(db)
    assert entry.changes["password_hash"] == {"before": "********", "after": "********"}
    assert entry.changes["totp_secret"] == {"before": None, "after": "********"}
    assert entry.changes["api_token"] == "********"
    assert entry.changes["limit"] == {"before": "1.50", "after": "2026-01-02T00:00:00+00:00"}


def test_diff_lists_only_changed_fields():
    assert audit.diff({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": None}) == {"b": {"before": 2, "after": 3}}


def _rows(db):
    columns = ", ".join(["id", "prev_hash", "hash", *HASHED_FIELDS])
    return [tuple(r) for r in db.session.execute(text(f"SELECT {columns} FROM audit_logs ORDER BY id"))]


def _three_entries(db):
    for n in range(3):
        audit.log(ACTOR, "USER_UPDATE", resource_type="user", resource_id=n, description=f"change {n}")
    db.session.commit()


def test_verification_names_a_modified_entry(db):
    _three_entries(db)
    second = entries(db)[1]
    db.session.execute(text("UPDATE audit_logs SET description = 'edited' WHERE id = :id"), {"id": second.id})
    report = integrity.verify_chain()
    assert not report.ok and report.first_break.kind == "modified"
    assert report.first_break.entry_id == second.id and report.checked == 1


def test_verification_names_a_deletion(db):
    _three_entries(db)
    first, second, third = entries(db)
    db.session.execute(text("DELETE FROM audit_logs WHERE id = :id"), {"id": second.id})
    report = integrity.verify_chain()
    assert report.first_break.kind == "deleted" and report.first_break.entry_id == third.id


def test_verification_names_an_inserted_entry():
    rows = []
    prev = GENESIS_HASH
    from app.audit.chain import entry_hash

    for n in range(3):
        values = [None] * len(HASHED_FIELDS)
        values[HASHED_FIELDS.index("description")] = f"entry {n}"
        digest = entry_hash(prev, values)
        rows.append((n + 1, prev, digest, *values))
        prev = digest
    forged_values = [None] * len(HASHED_FIELDS)
    forged = (15, rows[0][2], entry_hash(rows[0][2], forged_values), *forged_values)
    report = walk([rows[0], forged, rows[1], rows[2]])
    assert report.first_break.kind == "inserted" and report.first_break.entry_id == 15
    assert walk(rows).ok and walk([]).ok and walk([]).head_hash == GENESIS_HASH


def test_verification_notices_missing_first_entries(db):
    _three_entries(db)
    first = entries(db)[0]
    db.session.execute(text("DELETE FROM audit_logs WHERE id = :id"), {"id": first.id})
    report = integrity.verify_chain()
    assert report.first_break.kind == "deleted" and "does not start the chain" in report.first_break.detail


def test_verify_reads_in_batches(db):
    for n in range(7):
        audit.log(ACTOR, "USER_UPDATE", description=f"change {n}")
    db.session.commit()
    report = integrity.verify_chain(batch_size=3)
    assert report.ok and report.checked == 7
