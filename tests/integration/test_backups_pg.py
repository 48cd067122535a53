"""Backups on the real PostgreSQL: round trip, damage, a killed restore, old schemas, the lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import select, text

from app.audit import integrity
from app.audit.models import AuditLog
from app.backups import catalogue, ids, procedures, services
from app.backups.codec import sha256_of
from app.backups.engines import engine_for_app
from app.backups.errors import DrillFailed, VerificationFailed
from app.backups.locking import backup_lock
from app.database import transaction
from app.extensions import db
from tests.backups_helpers import (
    ACTOR,
    HEAD_REVISION,
    add_bulk_rows,
    artifact_path,
    cli_env,
    flip_byte,
    make_superadmin,
    pg_app_with_demo,
    pg_backup_app,
    read_manifest,
    signed_in_client,
    table_contents,
    truncate,
    wait_for_job,
    write_manifest,
)
from tests.conftest import csrf_token_from
from tests.integration.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(tmp_path, redis_url):
    with pg_app_with_demo(tmp_path, redis_url, "saintara_test_backups") as application:
        yield application


def libpq_url() -> str:
    return db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def change_everything() -> None:
    with transaction():
        db.session.execute(text("UPDATE customers SET full_name = full_name || ' (edited)' WHERE id % 3 = 0"))
        db.session.execute(text("DELETE FROM approvals WHERE id % 2 = 0"))
        db.session.execute(text("INSERT INTO institutions (code, name) VALUES ('NEW1', 'Added after the backup')"))


def test_round_trip_restores_identical_table_contents(app):
    backup = procedures.create_backup(ACTOR, drill=True)
    at_backup = table_contents()
    change_everything()
    changed = table_contents()
    assert changed["customers"] != at_backup["customers"] and changed["institutions"] != at_backup["institutions"]
    result = procedures.restore_backup(ACTOR, backup.backup_id)
    restored = table_contents()
    for table in sorted(set(at_backup) - {"backups", "audit_logs"}):
        assert restored[table] == at_backup[table], table
    # The audit log is the backup's (up to its chain head), plus one entry recording the restore itself.
    head = backup.manifest["audit_chain_head"]["id"]
    assert [r for r in restored["audit_logs"] if int(r[0]) <= head] == [r for r in at_backup["audit_logs"]
                                                                         if int(r[0]) <= head]
    db.session.remove()
    after = db.session.scalars(select(AuditLog).where(AuditLog.id > head).order_by(AuditLog.id)).all()
    assert [(e.action, e.result) for e in after] == [("SYSTEM_RESTORE", "success")]
    assert integrity.verify_chain().ok
    assert {b.id for b in catalogue.all_backups()} == {backup.backup_id, result.safety_id}
    manifest = backup.manifest
    assert manifest["engine"] == "postgresql" and manifest["server_version"].startswith("15")
    assert manifest["dump_tool"].startswith("pg_dump (PostgreSQL) 15") and manifest["artifact"].endswith(".pgdump.zst")
    assert manifest["tables"]["customers"] == 150 and manifest["tables"]["transactions"] == 600


def test_verify_detects_a_flipped_byte_a_truncated_artifact_and_a_manifest_mismatch(app):
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    path, manifest = artifact_path(app, backup_id), read_manifest(app, backup_id)
    original = path.read_bytes()

    flip_byte(path)
    with pytest.raises(VerificationFailed, match="SHA-256 does not match"):
        procedures.verify_backup(ACTOR, backup_id)
    # Even with its checksum "fixed" in the manifest, the damaged stream does not decode.
    write_manifest(app, backup_id, {**manifest, "sha256": sha256_of(path)})
    with pytest.raises(VerificationFailed, match="compressed stream is damaged"):
        procedures.verify_backup(ACTOR, backup_id)

    path.write_bytes(original)
    write_manifest(app, backup_id, manifest)
    truncate(path)
    with pytest.raises(VerificationFailed, match="truncated"):
        procedures.verify_backup(ACTOR, backup_id)

    path.write_bytes(original)
    tables = dict(manifest["tables"])
    tables.pop("approvals")
    write_manifest(app, backup_id, {**manifest, "tables": tables})
    with pytest.raises(VerificationFailed, match=r"the tables differ \(only in the archive: approvals"):
        procedures.verify_backup(ACTOR, backup_id)

    write_manifest(app, backup_id, manifest)
    procedures.verify_backup(ACTOR, backup_id)


def _restore_processes(database: str) -> list[int]:
    """pids of pg_restore processes replacing ``database`` (not listings, not drills)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"pg_restore") and b"--clean" in args and \
                f"--dbname=dbname='{database}'".encode() in args:
            found.append(int(entry.name))
    return found


def _kill_restore_midway(database: str, admin_url: str, stop: threading.Event) -> None:
    """Kill pg_restore once its COPY into ``database`` is under way."""
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        while not stop.is_set():
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
                            "application_name = 'saintara-backups' AND query LIKE 'COPY %%'", (database,))
                copying = cur.fetchone()[0]
            pids = _restore_processes(database)
            if copying and pids:
                os.kill(pids[0], signal.SIGKILL)
                return
            time.sleep(0.01)
    finally:
        conn.close()


def test_a_killed_pg_restore_leaves_the_data_intact_and_the_page_says_so(app):
    add_bulk_rows(400_000)  # enough rows for the restore's COPY to be caught halfway
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    change_everything()
    root = make_superadmin()
    before = table_contents()
    client = signed_in_client(app, root, stepped_up=True)
    page = f"/backups/{backup_id}/restore"
    database = db.engine.url.database
    stop = threading.Event()
    killer = threading.Thread(target=_kill_restore_midway, args=(database, libpq_url(), stop))
    killer.start()
    try:
        token = csrf_token_from(client.get(page).get_data(as_text=True))
        assert client.post(page, data={"csrf_token": token, "confirmation": backup_id}).status_code == 302
        from app.jobs import services as jobs

        record = wait_for_job(jobs.recent("backups.restore", limit=1)[0].id, timeout=300)
    finally:
        stop.set()
        killer.join()
    assert record.outcome == "restore_failed", record
    assert "pg_restore failed while restoring" in record.result["detail"] and "killed by signal 9" in \
        record.result["detail"]
    assert record.result["rolled_back"] is True
    after = table_contents()
    for table in sorted(set(before) - {"backups", "audit_logs"}):
        assert after[table] == before[table], table
    listing = client.get("/backups/").get_data(as_text=True)
    assert "The restore failed: pg_restore failed while restoring" in listing
    assert f"rolled back to safety backup {record.result['safety_id']}" in listing
    assert "your data is as it was before the restore" in listing
    db.session.remove()
    last = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert last.action == "SYSTEM_RESTORE" and last.result == "failure" and "rolled back" in last.description
    assert integrity.verify_chain().ok


def test_restoring_a_backup_of_an_older_schema_upgrades_it(app, monkeypatch):
    from flask_migrate import downgrade, upgrade

    db.session.remove()
    monkeypatch.setenv("SAINTARA_DOWNGRADE_DESTROYS_KEYS", "yes")  # going back past the sealing of personal data
    with transaction():  # as an operator must first: the old schema has no privacy officer role
        db.session.execute(text("UPDATE users SET role = 'admin' WHERE role = 'privacy_officer'"))
    downgrade(revision="0001_initial")  # as before the backup catalogue existed
    manifest = services.write_backup(ids.new_backup_id(), "test")
    assert manifest["alembic_revision"] == "0001_initial" and "backups" not in manifest["tables"]
    at_backup = table_contents()
    upgrade()
    change_everything()
    result = procedures.restore_backup(ACTOR, manifest["id"])
    assert result.upgraded
    restored = table_contents()
    assert restored["customers"] == at_backup["customers"] and restored["institutions"] == at_backup["institutions"]
    assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
    assert {b.id for b in catalogue.all_backups()} == {manifest["id"], result.safety_id}


def test_snapshot_consistency_under_concurrent_writes(app):
    """The manifest's counts come from the dump's own snapshot, so the drill matches while writes go on."""
    stop = threading.Event()
    dsn = libpq_url()

    def writer():
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            while not stop.is_set():
                cur.execute("INSERT INTO institutions (code, name) VALUES (%s, %s)",
                            (f"W{time.monotonic_ns() % 10**12}", f"Busy {time.monotonic_ns()}"))
        conn.close()

    add_bulk_rows(100_000)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = procedures.create_backup(ACTOR, drill=True)
    finally:
        stop.set()
        thread.join()
    assert result.drilled and result.manifest["tables"]["institutions"] > 4


def test_gzip_and_encryption_on_postgres(app):
    import base64

    app.config["BACKUP_ENCRYPTION_KEYS"] = [base64.urlsafe_b64encode(os.urandom(32)).decode()]
    result = procedures.create_backup(ACTOR, compression="gzip", drill=True)
    assert result.manifest["artifact"].endswith(".pgdump.gz.enc") and result.drilled
    assert b"PGDMP" not in artifact_path(app, result.backup_id).read_bytes()[:4096]


def run_flask(app, *args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=cli_env(app),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_the_lock_holds_across_processes(app):
    with backup_lock(engine_for_app()):
        process = run_flask(app, "backup", "create")
        out, err = process.communicate(timeout=120)
        assert process.returncode == 3 and "another backup operation holds the lock" in err
    process = run_flask(app, "backup", "create", "--no-drill")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err


def test_a_killed_backup_never_appears_and_cleanup_removes_its_leftovers(app):
    add_bulk_rows(600_000)
    staging = Path(app.config["BACKUP_DIR"]) / ".incoming"
    process = run_flask(app, "backup", "create")
    deadline = time.monotonic() + 120

    def dumping() -> bool:
        partials = list(staging.glob("*.partial")) if staging.exists() else []
        return any(path.stat().st_size > 0 for path in partials)

    while not dumping():  # kill it halfway through the dump
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    listed = run_flask(app, "backup", "list", "--json")
    out, _ = listed.communicate(timeout=60)
    assert out.strip() == "[]"
    db.session.remove()
    started = db.session.scalars(select(AuditLog).where(AuditLog.action == "SYSTEM_BACKUP")).all()
    assert len(started) == 1 and "started" in started[0].description  # on record, never finished
    cleaned = run_flask(app, "backup", "cleanup")
    out, err = cleaned.communicate(timeout=60)
    assert cleaned.returncode == 0 and "removed leftover" in out and ".partial" in out
    assert list(staging.iterdir()) == []


def test_a_hostile_database_name_is_only_ever_a_name(tmp_path, redis_url):
    """Quotes, spaces and an option-like tail in the name reach pg_dump/pg_restore as data, not syntax."""
    from psycopg2 import sql as pgsql
    from sqlalchemy.engine import URL, make_url

    name = f"saintara_test_{os.getpid()}' host=evil -f/tmp/x"
    admin = make_url(PG_ADMIN_URL)

    def admin_sql(statement: str) -> None:
        conn = psycopg2.connect(PG_ADMIN_URL)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(pgsql.SQL(statement).format(pgsql.Identifier(name)))
        conn.close()

    admin_sql("CREATE DATABASE {}")
    url = URL.create("postgresql+psycopg2", username=admin.username, host=admin.host, port=admin.port,
                     database=name)
    try:
        application = pg_backup_app(tmp_path, url.render_as_string(hide_password=False), redis_url)
        with application.app_context():
            add_bulk_rows(100)
            result = procedures.create_backup(ACTOR, drill=True)
            assert result.drilled and result.manifest["database"] == name
            procedures.restore_backup(ACTOR, result.backup_id)
            db.session.remove()
            db.engine.dispose()
    finally:
        admin_sql("DROP DATABASE IF EXISTS {} WITH (FORCE)")
    assert not Path("/tmp/x").exists()


def erasable_customer_id(skip: int = 0) -> int:
    """A demo customer with no business waiting for a decision (so the erasure is not refused)."""
    return db.session.scalar(text(
        "SELECT c.id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.customer_id = c.id "
        "AND t.status = 'pending') AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.subject_type = 'customer' "
        "AND a.subject_id = c.id::text AND a.status = 'pending') ORDER BY c.id LIMIT 1 OFFSET :skip"),
        {"skip": skip})


@pytest.mark.parametrize("database_lost", [False, True], ids=["restore", "new-server"])
def test_restoring_an_older_backup_never_brings_an_erased_customer_back(app, database_lost):
    from app.personal_data import vault
    from app.personal_data.models import DataSubject
    from app.platform.models import Customer
    from app.privacy import erasure

    customer_id = erasable_customer_id()
    with transaction():
        customer = db.session.get(Customer, customer_id)
        name = customer.full_name
        audit_about = db.session.scalar(select(AuditLog.id).where(
            AuditLog.resource_type == "customer", AuditLog.resource_id == str(customer_id)).limit(1))
        if audit_about is None:  # give the customer a history sealed under their key
            from app.audit import services as audit
            audit.log(ACTOR, "CUSTOMER_UPDATE", resource=customer, changes={"phone": {"before": "1", "after": "2"}})
    backup = procedures.create_backup(ACTOR, drill=False)  # holds the customer readable, with their key
    with transaction():
        receipt = erasure.erase_customer(ACTOR, db.session.get(Customer, customer_id), request_ref="DSR-9")
    if database_lost:  # a new server: its database knows no erasure, the backup storage's copy does
        with transaction():
            db.session.execute(text("DELETE FROM erasure_ledger"))
    procedures.restore_backup(ACTOR, backup.backup_id)
    db.session.remove()
    customer = db.session.get(Customer, customer_id)
    assert customer.full_name == f"Erased subject #{receipt.subject_id}" != name
    subject = db.session.scalar(select(DataSubject).where(DataSubject.kind == "customer",
                                                          DataSubject.ref_id == customer_id))
    assert subject.wrapped_key is None and subject.erased_at is not None
    entry = db.session.scalars(select(AuditLog).where(AuditLog.resource_type == "customer",
                                                      AuditLog.resource_id == str(customer_id))).first()
    assert vault.reveal(entry.resource_repr) == f"erased subject #{receipt.subject_id}"
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.id > backup.manifest["audit_chain_head"]["id"])
                                 .order_by(AuditLog.id)).all()
    assert actions == ["PRIVACY_LEDGER_REAPPLY", "SYSTEM_RESTORE"]  # before the portal serves the data again
    assert integrity.verify_chain().ok


def test_the_drill_reapplies_the_erasure_ledger_in_its_scratch_database(app, monkeypatch):
    from app.personal_data import ledger
    from app.platform.models import Customer
    from app.privacy import erasure

    first, second = erasable_customer_id(), erasable_customer_id(skip=1)
    with transaction():
        erasure.erase_customer(ACTOR, db.session.get(Customer, first))  # erased in the backup already
    backup = procedures.create_backup(ACTOR, drill=False)
    with transaction():
        erasure.erase_customer(ACTOR, db.session.get(Customer, second))  # erased after it: the ledger knows
    live_before = table_contents()

    manifest = procedures.drill_backup(ACTOR, backup.backup_id)
    record = catalogue.get_backup(manifest["id"])
    assert record.status == "drilled"
    assert ("the erasure ledger's 2 erasure(s) re-applied in the scratch database (1 made true again), every "
            "erased subject's key is gone") in record.drill_detail
    after = table_contents()  # the drill worked on its scratch copy: the live database is as it was
    assert {t: rows for t, rows in after.items() if t not in ("audit_logs", "backups")} == {
        t: rows for t, rows in live_before.items() if t not in ("audit_logs", "backups")}
    with psycopg2.connect(PG_ADMIN_URL) as admin, admin.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname LIKE '%\\_drill\\_%'")
        assert cur.fetchone()[0] == 0  # the scratch database is gone

    # An eraser that fails in the scratch database fails the drill, with the reason.
    def broken(_ref_id):
        raise RuntimeError("eraser out of order")

    monkeypatch.setitem(ledger._ERASERS, "customer", broken)
    with pytest.raises(DrillFailed, match="re-applying the erasure ledger failed: eraser out of order"):
        procedures.drill_backup(ACTOR, backup.backup_id)
    db.session.remove()
    record = catalogue.get_backup(backup.backup_id)
    assert record.status == "failed" and "eraser out of order" in record.drill_detail
