"""Concurrent writers on PostgreSQL never fork the audit chain (threads and processes)."""

from __future__ import annotations

import multiprocessing
import threading

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.audit import integrity
from app.audit import services as audit
from app.audit.models import AuditLog
from app.config import TEST_CONFIG
from app.extensions import db
from app.security.actor import Actor
from tests.integration.conftest import create_database, drop_database

pytestmark = pytest.mark.integration

THREADS, PER_THREAD = 8, 25
PROCESSES, PER_PROCESS = 3, 20


def _config(url: str, instance: str) -> dict:
    return {**TEST_CONFIG, "INSTANCE_PATH": instance, "SQLALCHEMY_DATABASE_URI": url,
            "EMBEDDED_DATABASE": False, "REDIS_URL": None}


@pytest.fixture
def committing_app(tmp_path):
    """An app on a database of its own where work really commits (no rollback isolation)."""
    url = create_database("saintara_test_chain")
    application = create_app(_config(url, str(tmp_path)))
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()
    drop_database(url)


def _write_entries(app, writer: str, count: int, barrier=None) -> None:
    if barrier is not None:
        barrier.wait()
    for n in range(count):
        with app.app_context():
            audit.log(Actor.system(writer), "USER_UPDATE", description=f"{writer} change {n}")
            if n % 2:
                audit.log(Actor.system(writer), "USER_UPDATE", description=f"{writer} second entry {n}")
            db.session.commit()


def _process_writer(url: str, instance: str, writer: str, count: int) -> None:
    app = create_app(_config(url, instance))
    _write_entries(app, writer, count)


def _assert_one_unbroken_chain(app, expected: int) -> None:
    with app.app_context():
        report = integrity.verify_chain()
        assert report.ok, report.first_break
        assert report.checked == expected
        forks = db.session.execute(
            select(AuditLog.prev_hash).group_by(AuditLog.prev_hash).having(func.count() > 1)
        ).all()
        assert forks == []


def _entries_per_writer(count: int) -> int:
    return count + count // 2


def test_threads_take_turns_at_the_chain_head(committing_app):
    barrier = threading.Barrier(THREADS)
    errors = []

    def run(name):
        try:
            _write_entries(committing_app, name, PER_THREAD, barrier)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"thread-{i}",)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _assert_one_unbroken_chain(committing_app, THREADS * _entries_per_writer(PER_THREAD))


def test_processes_take_turns_at_the_chain_head(committing_app, tmp_path):
    url = committing_app.config["SQLALCHEMY_DATABASE_URI"]
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_process_writer, args=(url, str(tmp_path), f"process-{i}", PER_PROCESS))
               for i in range(PROCESSES)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    _assert_one_unbroken_chain(committing_app, PROCESSES * _entries_per_writer(PER_PROCESS))
