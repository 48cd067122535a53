"""The backup service on the embedded SQLite default: create, verify, drill, restore, retention."""

import base64
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.audit import integrity
from app.audit.models import AuditLog
from app.backups import catalogue, ids, procedures, services
from app.backups.codec import sha256_of
from app.backups.engines import engine_for_app
from app.backups.errors import (
    BackupBusy,
    BackupFailed,
    BackupNotFound,
    DrillFailed,
    RestoreFailed,
    RestoreRefused,
    VerificationFailed,
)
from app.backups.locking import backup_lock
from app.backups.models import Backup
from app.database import transaction, utcnow
from app.extensions import db
from app.settings import services as settings
from tests.backups_helpers import (
    ACTOR,
    HEAD_REVISION,
    add_customers,
    artifact_path,
    flip_byte,
    read_manifest,
    sqlite_app_with_customers,
    table_contents,
    truncate,
    write_manifest,
)


@pytest.fixture
def app(tmp_path):
    with sqlite_app_with_customers(tmp_path, 30) as application:
        yield application


def actions() -> list[tuple[str, str]]:
    db.session.remove()
    return [(e.action, e.result) for e in db.session.scalars(select(AuditLog).order_by(AuditLog.id))]


def test_create_writes_artifact_and_complete_manifest(app):
    progress = []
    result = procedures.create_backup(ACTOR, drill=True, report=lambda stage, pct: progress.append((stage, pct)))
    manifest = read_manifest(app, result.backup_id)
    assert manifest == result.manifest
    assert ids.ID_PATTERN.match(manifest["id"]) and manifest["kind"] == "manual"
    assert manifest["engine"] == "sqlite" and manifest["database"] == "app.db" and manifest["server_version"]
    assert manifest["alembic_revision"] == HEAD_REVISION and manifest["compression"] == "zstd"
    assert manifest["tables"]["customers"] == 30 and manifest["tables"]["institutions"] == 1
    assert manifest["created_by"] == "test" and manifest["duration_seconds"] >= 0 and manifest["encryption"] is None
    path = artifact_path(app, result.backup_id)
    assert manifest["size_bytes"] == path.stat().st_size and manifest["sha256"] == sha256_of(path)
    head = manifest["audit_chain_head"]
    assert head["id"] is not None and len(head["hash"]) == 64
    # The dump contains the "started" entry, which is the chain head the manifest records.
    with db.session.begin():
        started = db.session.get(AuditLog, head["id"])
    assert started.action == "SYSTEM_BACKUP" and "started" in started.description
    assert result.verified and result.drilled
    stages = [stage for stage, _ in progress]
    assert stages.index("dumping") < stages.index("storing") < stages.index("verifying") < stages.index("drilling")
    assert [p for _, p in progress] == sorted(p for _, p in progress)  # never goes backwards
    row = db.session.get(Backup, result.backup_id)
    assert row.status == "drilled" and row.verify_status == "passed" and row.drill_seconds >= 0
    assert ("SYSTEM_BACKUP", "success") in actions() and ("BACKUP_DRILL", "success") in actions()
    assert services.newest_verified_backup_age() < timedelta(minutes=1)
    assert not services.newest_verified_backup_is_stale()
    assert not list(Path(app.config["BACKUP_DIR"], ".incoming").iterdir())  # nothing left staged


def test_verify_detects_flipped_byte_truncation_and_manifest_mismatch(app):
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    assert procedures.verify_backup(ACTOR, backup_id)["id"] == backup_id
    path = artifact_path(app, backup_id)
    original, manifest = path.read_bytes(), read_manifest(app, backup_id)

    flip_byte(path)
    with pytest.raises(VerificationFailed, match="SHA-256 does not match"):
        procedures.verify_backup(ACTOR, backup_id)
    assert db.session.get(Backup, backup_id).status == "failed"

    path.write_bytes(original)
    truncate(path)
    with pytest.raises(VerificationFailed, match="truncated"):
        procedures.verify_backup(ACTOR, backup_id)

    path.write_bytes(original)
    write_manifest(app, backup_id, {**manifest, "tables": {**manifest["tables"], "payments": 3}})
    with pytest.raises(VerificationFailed, match="tables differ .*only in the manifest: payments"):
        procedures.verify_backup(ACTOR, backup_id)
    write_manifest(app, backup_id, {**manifest, "dump_bytes": manifest["dump_bytes"] + 1})
    with pytest.raises(VerificationFailed, match="manifest mismatch: the dump has"):
        procedures.verify_backup(ACTOR, backup_id)
    write_manifest(app, backup_id, {**manifest, "encryption": {"algorithm": "x", "key_id": "y"}})
    with pytest.raises(VerificationFailed, match="manifest says the artifact is encrypted"):
        procedures.verify_backup(ACTOR, backup_id)
    write_manifest(app, backup_id, {**manifest, "compression": "gzip"})
    with pytest.raises(VerificationFailed, match="not gzip-compressed"):
        procedures.verify_backup(ACTOR, backup_id)
    write_manifest(app, backup_id, {**manifest, "engine": "postgresql"})
    with pytest.raises(VerificationFailed, match="made from postgresql"):
        procedures.verify_backup(ACTOR, backup_id)

    write_manifest(app, backup_id, manifest)
    procedures.verify_backup(ACTOR, backup_id)
    assert db.session.get(Backup, backup_id).verify_status == "passed"
    assert ("BACKUP_VERIFY", "failure") in actions()


def test_drill_compares_row_counts_revision_and_chain_head(app):
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    procedures.drill_backup(ACTOR, backup_id)
    manifest = read_manifest(app, backup_id)
    write_manifest(app, backup_id, {**manifest, "tables": {**manifest["tables"], "customers": 31},
                                    "alembic_revision": "0001_initial"})
    with pytest.raises(DrillFailed, match="customers: 30 rows instead of 31") as failed:
        procedures.drill_backup(ACTOR, backup_id)
    assert f"schema revision {HEAD_REVISION} instead of 0001_initial" in str(failed.value)
    row = db.session.get(Backup, backup_id)
    assert row.drill_status == "failed" and "customers" in row.drill_detail and row.verify_status == "passed"
    flip_byte(artifact_path(app, backup_id))
    with pytest.raises(VerificationFailed):
        procedures.drill_backup(ACTOR, backup_id)
    assert "verification failed" in db.session.get(Backup, backup_id).drill_detail


def test_the_drill_reapplies_the_erasure_ledger_on_its_scratch_copy(app):
    from app.platform.models import Customer
    from app.privacy import erasure

    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    customer_id = db.session.scalars(select(Customer.id).order_by(Customer.id)).first()
    with transaction():
        erasure.erase_customer(ACTOR, db.session.get(Customer, customer_id))
    before = table_contents()
    procedures.drill_backup(ACTOR, backup_id)
    row = db.session.get(Backup, backup_id)
    assert row.drill_status == "passed"
    assert ("the erasure ledger's 1 erasure(s) re-applied in the scratch database (1 made true again)"
            in row.drill_detail)
    assert {t: v for t, v in table_contents().items() if t not in ("audit_logs", "backups")} == {
        t: v for t, v in before.items() if t not in ("audit_logs", "backups")}  # only the scratch copy changed
    assert not [p for p in Path(app.config["BACKUP_DIR"]).rglob("sqlite-*.db")]  # and it is gone


def test_restore_round_trip_on_sqlite(app):
    add_customers(5, institution_code="BK002")
    before = table_contents()
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    snapshot_of_backup = table_contents()
    add_customers(7, prefix="Later")
    assert table_contents() != snapshot_of_backup
    result = procedures.restore_backup(ACTOR, backup_id)
    after = table_contents()
    for table in ("customers", "institutions", "users", "transactions", "approvals"):
        assert after[table] == snapshot_of_backup[table] == before[table]
    assert result.safety_id != backup_id and not result.upgraded
    assert {b.id for b in catalogue.all_backups()} == {backup_id, result.safety_id}  # catalogue re-synced
    assert integrity.verify_chain().ok
    last = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert last.action == "SYSTEM_RESTORE" and last.result == "success"
    assert last.changes["safety_backup"] == result.safety_id
    assert last.changes["previous_chain_head"]["id"] > last.changes["restored_chain_head"]["id"]


def test_restore_refuses_unverifiable_and_newer_backups(app):
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    manifest = read_manifest(app, backup_id)
    contents = table_contents()
    write_manifest(app, backup_id, {**manifest, "alembic_revision": "9999_from_the_future"})
    with pytest.raises(RestoreRefused, match="newer schema revision"):
        procedures.restore_backup(ACTOR, backup_id)
    write_manifest(app, backup_id, {**manifest, "alembic_revision": None})
    with pytest.raises(RestoreRefused, match="records no schema revision"):
        procedures.restore_backup(ACTOR, backup_id)
    write_manifest(app, backup_id, manifest)
    flip_byte(artifact_path(app, backup_id))
    with pytest.raises(RestoreRefused, match="fails verification"):
        procedures.restore_backup(ACTOR, backup_id)
    with pytest.raises(BackupNotFound):
        procedures.restore_backup(ACTOR, "20990101T000000Z-abcdef")
    with pytest.raises(BackupNotFound):
        procedures.restore_backup(ACTOR, "../../etc/passwd")
    assert table_contents()["customers"] == contents["customers"]
    assert [b.kind for b in catalogue.all_backups()] == ["manual"]  # no safety backup was needed
    refusals = [e for e in db.session.scalars(select(AuditLog).where(AuditLog.action == "SYSTEM_RESTORE"))]
    assert len(refusals) == 3 and all(e.result == "failure" and "refused" in e.description for e in refusals)


def test_a_failed_restore_rolls_back_to_the_safety_backup(app, monkeypatch):
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    add_customers(4, prefix="Precious")
    before = table_contents()
    real = engine_for_app().__class__.restore
    calls = []

    def restore_then_fail(self, chunks, on_bytes):
        calls.append(1)
        real(self, chunks, on_bytes)
        if len(calls) == 1:
            raise OSError("disk vanished halfway")

    monkeypatch.setattr(engine_for_app().__class__, "restore", restore_then_fail)
    with pytest.raises(RestoreFailed) as failed:
        procedures.restore_backup(ACTOR, backup_id)
    assert failed.value.rolled_back and failed.value.exit_code == 1 and failed.value.safety_id
    assert len(calls) == 2
    after = table_contents()
    assert after["customers"] == before["customers"] and after["institutions"] == before["institutions"]
    last = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert last.action == "SYSTEM_RESTORE" and last.result == "failure" and "rolled back" in last.description

    monkeypatch.setattr(engine_for_app().__class__, "restore",
                        lambda self, chunks, on_bytes: (_ for _ in ()).throw(OSError("always")))
    with pytest.raises(RestoreFailed) as worse:
        procedures.restore_backup(ACTOR, backup_id)
    assert not worse.value.rolled_back and worse.value.exit_code == 4 and worse.value.outcome == "rollback_failed"


def test_encrypted_backups(app, tmp_path):
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    app.config["BACKUP_ENCRYPTION_KEYS"] = [key]
    result = procedures.create_backup(ACTOR, drill=True)
    manifest = result.manifest
    assert manifest["artifact"].endswith(".sqlite.zst.enc") and manifest["encryption"]["key_id"]
    assert b"SQLite format 3" not in artifact_path(app, result.backup_id).read_bytes()
    # Rotation: a new key first, the old one still decrypts what it made.
    app.config["BACKUP_ENCRYPTION_KEYS"] = [base64.urlsafe_b64encode(os.urandom(32)).decode(), key]
    procedures.verify_backup(ACTOR, result.backup_id)
    app.config["BACKUP_ENCRYPTION_KEYS"] = [base64.urlsafe_b64encode(os.urandom(32)).decode()]
    with pytest.raises(VerificationFailed, match="no configured BACKUP_ENCRYPTION_KEY"):
        procedures.verify_backup(ACTOR, result.backup_id)
    # Configured but unusable: the backup fails; nothing plain is written.
    app.config["BACKUP_ENCRYPTION_KEYS"] = ["not a key"]
    before = sorted(Path(app.config["BACKUP_DIR"]).iterdir())
    with pytest.raises(BackupFailed, match="encryption is configured but cannot be applied"):
        procedures.create_backup(ACTOR, drill=False)
    assert sorted(Path(app.config["BACKUP_DIR"]).iterdir()) == before
    assert not list(Path(app.config["BACKUP_DIR"], ".incoming").iterdir())
    assert actions()[-1] == ("SYSTEM_BACKUP", "failure")  # the refused attempt is on record


def test_gzip_option(app):
    result = procedures.create_backup(ACTOR, compression="gzip", drill=True)
    assert result.manifest["compression"] == "gzip" and result.manifest["artifact"].endswith(".gz")


def test_a_failed_dump_leaves_nothing_and_is_audited(app, monkeypatch):
    def broken_dump(self, writer, on_bytes):
        writer.write(b"half a dump")
        raise OSError("no space left on device")

    monkeypatch.setattr(engine_for_app().__class__, "dump", broken_dump)
    with pytest.raises(BackupFailed, match="no space left"):
        procedures.create_backup(ACTOR)
    assert [p.name for p in Path(app.config["BACKUP_DIR"]).iterdir()] == [".incoming"]
    assert not list(Path(app.config["BACKUP_DIR"], ".incoming").iterdir())
    assert actions()[-1] == ("SYSTEM_BACKUP", "failure") and catalogue.all_backups() == []


def test_one_operation_at_a_time(app):
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    with backup_lock(engine_for_app()):
        for attempt in (lambda: procedures.create_backup(ACTOR), lambda: procedures.verify_backup(ACTOR, backup_id),
                        lambda: procedures.drill_backup(ACTOR, backup_id), lambda: procedures.cleanup(ACTOR),
                        lambda: procedures.restore_backup(ACTOR, backup_id)):
            with pytest.raises(BackupBusy) as busy:
                attempt()
            assert busy.value.exit_code == 3
    procedures.verify_backup(ACTOR, backup_id)  # released


def _aged(app, backup_id: str, days: int, verified: bool) -> None:
    """Make a stored backup look older (the storage is the truth; the catalogue follows it)."""
    manifest = read_manifest(app, backup_id)
    write_manifest(app, backup_id, {**manifest, "created_at": (utcnow() - timedelta(days=days)).isoformat()})
    status_file = Path(app.config["BACKUP_DIR"], f"{backup_id}.status.json")
    status = json.loads(status_file.read_text())
    status["verify"]["status"] = "passed" if verified else "failed"
    status_file.write_text(json.dumps(status))


def test_retention_plan():
    now = utcnow()

    def b(name, days, verified):
        return Backup(id=name, created_at=now - timedelta(days=days), verify_status="passed" if verified else None)

    backups = [b("new", 1, False), b("week", 7, True), b("old-v1", 40, True), b("old-v2", 50, True),
               b("old-u", 45, False)]
    plan = catalogue.plan_retention(backups, now, days=30, keep_verified=2)
    assert [x.id for x in plan.keep] == ["new", "week", "old-v1"] and [x.id for x in plan.delete] == ["old-u",
                                                                                                      "old-v2"]
    # Never the last verified one, whatever the settings say.
    only_old = catalogue.plan_retention([b("a", 90, True), b("b", 80, False)], now, days=1, keep_verified=0)
    assert [x.id for x in only_old.keep] == ["a"]


def test_cleanup_applies_retention_and_audits_each_deletion(app):
    ids = [procedures.create_backup(ACTOR, drill=False, retention=False).backup_id for _ in range(4)]
    _aged(app, ids[0], 60, True)
    _aged(app, ids[1], 50, False)
    _aged(app, ids[2], 40, True)
    with transaction():
        settings.update(ACTOR, "backup_keep_verified", "1", expected_version=None)
    dry, _ = procedures.cleanup(ACTOR, dry_run=True)
    assert sorted(dry) == sorted(ids[:3]) and len(catalogue.all_backups()) == 4
    # Leftovers of killed backups go too: a staged partial and an artifact without manifest.
    incoming = Path(app.config["BACKUP_DIR"], ".incoming")
    (incoming / "20260101T000000Z-aaaaaa.sqlite.zst.partial").write_bytes(b"half")
    Path(app.config["BACKUP_DIR"], "20260101T000000Z-bbbbbb.sqlite.zst").write_bytes(b"orphan")
    deleted, leftovers = procedures.cleanup(ACTOR)
    assert sorted(deleted) == sorted(ids[:3])
    assert sorted(leftovers) == ["20260101T000000Z-aaaaaa.sqlite.zst.partial", "20260101T000000Z-bbbbbb.sqlite.zst"]
    assert [b.id for b in catalogue.all_backups()] == [ids[3]]
    assert sorted(p.name for p in Path(app.config["BACKUP_DIR"]).iterdir()) == sorted(
        [".incoming", f"{ids[3]}.manifest.json", f"{ids[3]}.status.json", read_manifest(app, ids[3])["artifact"],
         "erasure-ledger.json"])  # the copy of the erasure ledger is kept beside the backups
    deletions = db.session.scalars(select(AuditLog).where(AuditLog.action == "BACKUP_DELETE")).all()
    assert sorted(e.resource_id for e in deletions) == sorted(ids[:3])
    assert "older than 30 days" in deletions[0].description


def test_retention_runs_after_each_backup(app):
    old = procedures.create_backup(ACTOR, drill=False, retention=False).backup_id
    _aged(app, old, 90, True)
    kept = procedures.create_backup(ACTOR, drill=False)
    assert kept.deleted == []  # the old one is among the newest 3 verified backups (the default)
    with transaction():
        settings.update(ACTOR, "backup_keep_verified", "1", expected_version=None)
    result = procedures.create_backup(ACTOR, drill=False)
    assert result.deleted == [old] and [b.id for b in catalogue.all_backups()] == [result.backup_id, kept.backup_id]


def test_catalogue_is_rebuilt_from_the_storage(app):
    backup_id = procedures.create_backup(ACTOR, drill=True).backup_id
    with transaction():
        db.session.query(Backup).delete()
    assert services.newest_verified_backup_age() is None and services.newest_verified_backup_is_stale()
    with transaction():
        assert catalogue.sync_catalogue() == (1, 0)
    row = catalogue.get_backup(backup_id)
    assert row.status == "drilled" and row.tables["customers"] == 30
    status = json.loads(Path(app.config["BACKUP_DIR"], f"{backup_id}.status.json").read_text())
    assert status["drill"]["status"] == "passed"
    page = catalogue.catalogue_page()
    assert [b.id for b in page.items] == [backup_id]
    with pytest.raises(BackupNotFound):
        catalogue.get_backup("20990101T000000Z-abcdef")
