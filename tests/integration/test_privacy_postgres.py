"""Personal data on PostgreSQL: the migration seals existing entries and re-anchors the chain,
and a killed erasure leaves nothing half-erased."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text

from app import create_app
from app.audit import integrity
from app.audit.chain import HASHED_FIELDS, entry_hash
from app.audit.integrity import Anchor
from app.audit.models import GENESIS_HASH, AuditLog, canonical_json
from app.config import TEST_CONFIG
from app.extensions import db
from app.personal_data import vault
from app.personal_data.models import DataSubject, ErasureRecord
from tests.integration.conftest import PG_ADMIN_URL, create_database, drop_database

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh(tmp_path, redis_url):
    url = create_database("saintara_test_privacy")
    application = create_app({**TEST_CONFIG, "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": url,
                              "EMBEDDED_DATABASE": False, "REDIS_URL": redis_url})
    yield application, url
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    drop_database(url)


def _plain_entry(connection, prev: str, at: datetime, **fields) -> tuple[int, str]:
    """Append an entry as the portal wrote them before sealing existed (values in the clear)."""
    values = {name: None for name in HASHED_FIELDS}
    values.update({"created_at": at, "result": "success", "description": "", **fields})
    changes = values["changes"]
    hashed = [canonical_json(changes) if name == "changes" and changes is not None else values[name]
              for name in HASHED_FIELDS]
    digest = entry_hash(prev, hashed)
    columns = (*HASHED_FIELDS, "prev_hash", "hash")
    params = {**values, "changes": None if changes is None else canonical_json(changes), "prev_hash": prev,
              "hash": digest}
    placeholders = ", ".join(f":{c}" for c in columns).replace(":changes", "CAST(:changes AS json)")
    entry_id = connection.execute(text(f"INSERT INTO audit_logs ({', '.join(columns)}) VALUES ({placeholders}) "
                                       "RETURNING id"), params).scalar_one()
    return entry_id, digest


def test_the_migration_seals_existing_entries_and_re_anchors_the_chain(fresh):
    application, _url = fresh
    start = datetime(2026, 11, 1, 9, tzinfo=UTC)
    with application.app_context():
        upgrade(revision="0008_institution_name_order")
        with db.engine.begin() as connection:
            connection.execute(text("INSERT INTO institutions (id, code, name) VALUES (1, 'BNI', 'Bank Nusantara')"))
            connection.execute(text("INSERT INTO customers (id, institution_id, full_name, email) "
                                    "VALUES (7, 1, 'Budi Santoso', 'budi@contoh.co.id')"))
            connection.execute(text("INSERT INTO users (id, email, display_name, role) "
                                    "VALUES (3, 'ops@example.com', 'Ops', 'admin')"))
            first, prev = _plain_entry(connection, GENESIS_HASH, start, actor_id=3, actor_email="ops@example.com",
                                       action="LOGIN_SUCCESS", resource_type="user", resource_id="3",
                                       resource_repr="Ops <ops@example.com>", description="Signed in", ip="10.0.0.1")
            second, prev = _plain_entry(
                connection, prev, start + timedelta(minutes=1), actor_id=3, actor_email="ops@example.com",
                action="CUSTOMER_UPDATE", resource_type="customer", resource_id="7", institution_id=1,
                resource_repr="Budi Santoso <budi@contoh.co.id>", description="Edited customer budi@contoh.co.id",
                changes={"phone": {"before": "+62 811", "after": "+62 812"},
                         "full_name": {"before": "Budi", "after": "Budi Santoso"}})
            checkpoint, prev = _plain_entry(
                connection, prev, start + timedelta(minutes=2), actor_email="system:cron", action="AUDIT_CHECKPOINT",
                resource_type="audit_log", resource_id=str(second), changes={"head_id": second, "head_hash": prev})
            _fourth, old_head = _plain_entry(connection, prev, start + timedelta(minutes=3), actor_id=3,
                                             actor_email="ops@example.com", action="LOGOUT", description="Signed out")
        old_second_hash = db.session.scalar(select(AuditLog.hash).where(AuditLog.id == second))
        db.session.remove()

        upgrade()

        rows = db.session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        stored = " ".join(str(getattr(r, c)) for r in rows for c in ("actor_email", "resource_repr", "description",
                                                                       "changes"))
        for plain in ("ops@example.com", "Budi", "budi@contoh.co.id", "+62 811"):
            assert plain not in stored, plain
        edit = rows[1]
        assert vault.reveal(edit.actor_email) == "ops@example.com"
        assert vault.reveal(edit.resource_repr) == "Budi Santoso <budi@contoh.co.id>"
        assert vault.reveal_text(edit.description) == "Edited customer budi@contoh.co.id"
        assert vault.reveal_json(edit.changes)["full_name"] == {"before": "Budi", "after": "Budi Santoso"}
        reanchor = rows[-1]
        assert reanchor.action == "AUDIT_REANCHOR"
        assert reanchor.changes["previous_head"] == {"id": rows[-2].id, "hash": old_head}
        assert reanchor.changes["entries"] == 4 and reanchor.changes["entries_with_personal_values"] == 3
        assert rows[2].changes["head_hash"] == rows[1].hash  # the checkpoint names the new hash of its head

        report = integrity.verify_chain(anchors=[Anchor(second, old_second_hash), Anchor(rows[-2].id, old_head)])
        assert report.ok and report.anchors_checked == 2
        forged = integrity.verify_chain(anchors=[Anchor(first, "f" * 64)])
        assert not forged.ok and forged.first_break.kind == "rewritten"
        assert checkpoint == rows[2].id


def test_a_broken_chain_is_never_rewritten(fresh):
    application, _url = fresh
    with application.app_context():
        upgrade(revision="0008_institution_name_order")
        with db.engine.begin() as connection:
            entry_id, prev = _plain_entry(connection, GENESIS_HASH, datetime(2026, 11, 1, tzinfo=UTC),
                                          actor_email="a@example.com", action="LOGOUT")
            _plain_entry(connection, prev, datetime(2026, 11, 2, tzinfo=UTC), actor_email="b@example.com",
                         action="LOGOUT")
            connection.execute(text("ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only"))
            connection.execute(text("UPDATE audit_logs SET description = 'forged' WHERE id = :id"), {"id": entry_id})
        db.session.remove()
        with pytest.raises(SystemExit):  # Flask-Migrate logs "the audit chain is broken ..." and exits 1
            upgrade()
        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == "0008_institution_name_order"
        assert db.session.scalar(text("SELECT description FROM audit_logs WHERE id = :id"), {"id": entry_id}) == (
            "forged")


def _wait_for_lock_wait(database: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    conn = psycopg2.connect(PG_ADMIN_URL)
    # pg_stat_activity is a snapshot per transaction: every look needs its own (and psycopg2's
    # ``with connection`` would open one even in autocommit mode).
    conn.autocommit = True
    with contextlib.closing(conn), conn.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                        (database,))
            if cur.fetchone()[0]:
                return
            time.sleep(0.1)
        cur.execute("SELECT state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity "
                    "WHERE datname = %s", (database,))
        raise AssertionError(f"the erasure never reached the ledger: {cur.fetchall()}")


def test_a_killed_erasure_leaves_nothing_half_erased(fresh, tmp_path, redis_url):
    application, url = fresh
    with application.app_context():
        upgrade()
        with db.engine.begin() as connection:
            connection.execute(text("INSERT INTO institutions (id, code, name) VALUES (1, 'BNI', 'Bank Nusantara')"))
            connection.execute(text("INSERT INTO customers (id, institution_id, full_name, email, phone) "
                                    "VALUES (7, 1, 'Budi Santoso', 'budi@contoh.co.id', '+62 811')"))
        sealed = vault.seal("customer", 7, "Budi Santoso")  # the customer's key exists before the erasure
        db.session.commit()
        env = {"PATH": os.environ["PATH"], "REDIS_URL": redis_url,
               "DATABASE_URL": url.replace("postgresql+psycopg2://", "postgresql://"), "APP_ENV": "development",
               "INSTANCE_PATH": str(tmp_path / "cli"), "ENCRYPTION_KEY": application.config["ENCRYPTION_KEYS"][0],
               "SECRET_KEY": "x" * 40, "PYTHONFAULTHANDLER": "1"}
        database = url.rsplit("/", 1)[1]
        # The erasure pseudonymises the customer and destroys the key, then waits at the ledger.
        blocker = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
        blocker.cursor().execute("LOCK TABLE erasure_ledger IN ACCESS EXCLUSIVE MODE")
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "privacy", "erase", "customer",
                                    "7", "--yes"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            try:
                _wait_for_lock_wait(database)
            except AssertionError:
                process.send_signal(signal.SIGABRT)
                raise AssertionError(str(sys.exc_info()[1]) + process.communicate()[0].decode()[-2000:]) from None
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=10)
        finally:
            blocker.rollback()
            blocker.close()
        assert process.returncode == -signal.SIGKILL
        db.session.remove()
        name, phone = db.session.execute(text("SELECT full_name, phone FROM customers WHERE id = 7")).one()
        assert (name, phone) == ("Budi Santoso", "+62 811")
        assert db.session.scalars(select(ErasureRecord)).all() == []
        assert db.session.scalar(select(DataSubject.wrapped_key).where(DataSubject.ref_id == 7)) is not None
        assert vault.reveal(sealed) == "Budi Santoso"
        assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "PRIVACY_ERASE")) is None
        assert integrity.verify_chain().ok
