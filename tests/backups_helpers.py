"""Helpers shared by the backup tests (unit on SQLite, integration on PostgreSQL, scripts, docs).

Backups need real commits (a dump sees only committed data, and jobs run on their own
connections), so these tests use apps of their own instead of the rollback-isolated ``db``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from app.config import TEST_CONFIG
from app.database import transaction
from app.extensions import db
from app.jobs import services as jobs
from app.platform.models import Customer, Institution
from app.security.actor import Actor
from tests.conftest import build_app

ACTOR = Actor.system("test")
# The newest migration (what a fresh database and a restored-and-upgraded one are at).
HEAD_REVISION = ScriptDirectory(str(Path(__file__).resolve().parents[1] / "migrations")).get_current_head()


def sqlite_backup_app(tmp_path: Path, **overrides):
    """A migrated app on an SQLite file of its own, jobs in threads, backups under ``tmp_path``."""
    instance = tmp_path / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    return build_app({
        **TEST_CONFIG,
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'app.db'}",
        "EMBEDDED_DATABASE": True,
        "REDIS_URL": None,
        "CACHE_TYPE": "SimpleCache",
        "RATELIMIT_STORAGE_URI": "memory://",
        "JOBS_BACKEND": "thread",
        "BACKUP_DIR": str(tmp_path / "backups"),
        "BACKUP_ENCRYPTION_KEYS": [],
        **overrides,
    })


def add_customers(count: int, *, institution_code: str = "BK001", prefix: str = "Customer") -> None:
    """Commit an institution (made once) and ``count`` customers in it."""
    with transaction():
        institution = db.session.query(Institution).filter_by(code=institution_code).one_or_none()
        if institution is None:
            institution = Institution(name=f"Institution {institution_code}", code=institution_code)
            db.session.add(institution)
            db.session.flush()
        start = db.session.query(Customer).count()
        db.session.add_all(Customer(institution_id=institution.id, full_name=f"{prefix} {start + i}",
                                    email=f"{prefix.lower()}{start + i}@example.com") for i in range(count))


def table_contents() -> dict[str, list[tuple]]:
    """Every row of every table, sorted: what a restore must bring back exactly."""
    db.session.remove()
    contents = {}
    with db.engine.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()  # noqa: S608 (names from the catalog)
            contents[table] = sorted(tuple(map(repr, row)) for row in rows)
    return contents


def wait_for_job(job_id: str, timeout: float = 120) -> jobs.JobRecord:
    """Poll the job store (as the UI does) until the job ends."""
    deadline = time.monotonic() + timeout
    while True:
        record = jobs.get(job_id)
        if record is not None and record.finished:
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not finish: {record}")
        time.sleep(0.1)


def manifest_path(app, backup_id: str) -> Path:
    return Path(app.config["BACKUP_DIR"]) / f"{backup_id}.manifest.json"


def read_manifest(app, backup_id: str) -> dict:
    return json.loads(manifest_path(app, backup_id).read_text())


def write_manifest(app, backup_id: str, manifest: dict) -> None:
    manifest_path(app, backup_id).write_text(json.dumps(manifest))


def artifact_path(app, backup_id: str) -> Path:
    return Path(app.config["BACKUP_DIR"]) / read_manifest(app, backup_id)["artifact"]


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if offset is None else offset] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def make_superadmin(email: str = "root@example.com"):
    from types import SimpleNamespace

    from app.users import services as users
    from app.users.models import Role

    with transaction():
        user = users.create_user(ACTOR, email=email, display_name="Root", role=Role.SUPERADMIN,
                                 password="correct horse battery staple")
        return SimpleNamespace(id=user.id, email=user.email)  # outlives the session


def signed_in_client(app, user, *, stepped_up: bool = False):
    """A test client with a server-side session made directly (as tests/conftest.py client_for)."""
    import secrets as _secrets

    from flask.sessions import session_json_serializer

    from app.security.sessions import session_key

    data = {"_user_id": str(user.id), "_fresh": True}
    if stepped_up:
        data["stepped_up_at"] = time.time()
    sid = _secrets.token_urlsafe(32)
    now = time.time()
    app.session_interface.store.save(session_key(sid), {
        "data": session_json_serializer.dumps(data),
        "meta": {"created": now, "last_seen": now, "user_id": user.id, "ip": "127.0.0.1", "user_agent": "test"},
    }, ttl=600)
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], sid)
    return client


def pg_backup_app(tmp_path: Path, database_url: str, redis_url: str | None, **overrides):
    """A migrated app on a PostgreSQL database of the test's own (made with create_database)."""
    instance = tmp_path / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    redis_settings = {"REDIS_URL": redis_url, "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url,
                      "RATELIMIT_STORAGE_URI": redis_url} if redis_url else {
        "REDIS_URL": None, "CACHE_TYPE": "SimpleCache", "RATELIMIT_STORAGE_URI": "memory://"}
    return build_app({
        **TEST_CONFIG,
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "EMBEDDED_DATABASE": False,
        "JOBS_BACKEND": "thread",
        "BACKUP_DIR": str(tmp_path / "backups"),
        "BACKUP_ENCRYPTION_KEYS": [],
        **redis_settings,
        **overrides,
    })


def load_small_demo() -> None:
    """The demo data set, smaller: institutions, customers, transactions, approvals, audit history."""
    from app.platform import demo

    with transaction():
        demo.load_demo_data(ACTOR, size=demo.DemoSize(institutions=4, customers=150, transactions=600, approvals=20))


def add_bulk_rows(rows: int) -> None:
    """A table of ``rows`` hard-to-compress rows: enough data for a restore to take a while."""
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bulk_notes (id serial PRIMARY KEY, note text NOT NULL)"))
        conn.execute(text("INSERT INTO bulk_notes (note) SELECT md5(random()::text) || md5(i::text) "
                          "FROM generate_series(1, :n) AS i"), {"n": rows})


def cli_env(app, **extra) -> dict:
    """The environment for running ``flask`` (or scripts/backup/*.sh) against ``app``'s database."""
    import os
    import sys

    from cryptography.fernet import Fernet

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/root"),
        "APP_ENV": "development",
        "DATABASE_URL": url.replace("postgresql+psycopg2://", "postgresql://"),
        "INSTANCE_PATH": app.config["INSTANCE_PATH"],
        "BACKUP_DIR": app.config["BACKUP_DIR"],
        "SECRET_KEY": "scripts-" + "k" * 8 + Fernet.generate_key().decode(),
        "ENCRYPTION_KEY": app.config["ENCRYPTION_KEYS"][0],
        "FLASK_APP": "wsgi",
    }
    if app.config.get("REDIS_URL"):
        env["REDIS_URL"] = app.config["REDIS_URL"]
        env["JOBS_BACKEND"] = app.config["JOBS_BACKEND"]
        env["JOBS_QUEUE"] = app.config["JOBS_QUEUE"]
    return {**env, **{k: str(v) for k, v in extra.items()}}


@contextlib.contextmanager
def sqlite_app_with_customers(tmp_path: Path, customers: int = 0, **overrides) -> Iterator:
    """:func:`sqlite_backup_app` inside its app context, with ``customers`` committed customers."""
    application = sqlite_backup_app(tmp_path, **overrides)
    with application.app_context():
        if customers:
            add_customers(customers)
        yield application


@contextlib.contextmanager
def pg_app_with_demo(tmp_path: Path, redis_url: str, prefix: str, **overrides) -> Iterator:
    """:func:`pg_backup_app` on a new database (dropped afterwards) holding the small demo data set."""
    from tests.integration.conftest import create_database, drop_database

    url = create_database(prefix)
    application = pg_backup_app(tmp_path, url, redis_url, **overrides)
    try:
        with application.app_context():
            load_small_demo()
            yield application
            db.session.remove()
            db.engine.dispose()
    finally:
        drop_database(url)
