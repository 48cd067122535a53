"""The real PostgreSQL and Redis: a database of this run's own and Redis db index 11.

An unreachable service fails these tests (it is never skipped): `make test` starts
PostgreSQL and Redis when they are installed but stopped.
"""

from __future__ import annotations

import os
import uuid

import psycopg2
import pytest
import redis
from psycopg2 import sql

from app.config import TEST_CONFIG, load_config
from tests.conftest import build_app

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DB_INDEX = int(os.environ.get("TEST_REDIS_DB", "11"))  # this suite's own index; flushed freely


def _require(name: str, check) -> None:
    try:
        check()
    except Exception as exc:
        pytest.fail(f"{name} is not reachable ({exc}); run `make services` (or `make test`) to start it",
                    pytrace=False)


def create_database(prefix: str) -> str:
    """A new empty database with a unique name; returns its SQLAlchemy URL.

    ``TEST_DATABASE_PREFIX`` (e.g. ``saintara_test_ci2``) replaces the leading ``saintara_test``, so
    runs sharing one server can tell their databases apart.
    """
    own = os.environ.get("TEST_DATABASE_PREFIX", "").strip()
    if own and own.startswith("saintara_test") and prefix.startswith("saintara_test"):
        prefix = own + prefix[len("saintara_test"):]
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _require("PostgreSQL", lambda: psycopg2.connect(PG_ADMIN_URL, connect_timeout=3).close())
    conn = psycopg2.connect(PG_ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://") + "/" + name


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    assert name.startswith("saintara_test"), "only this suite's own databases are ever dropped"
    conn = psycopg2.connect(PG_ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = f"{REDIS_BASE}/{REDIS_DB_INDEX}"
    _require("Redis", lambda: redis.Redis.from_url(url, socket_connect_timeout=3).ping())
    return url


@pytest.fixture(scope="session")
def pg_url():
    url = create_database("saintara_test")
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def app_config(tmp_path_factory, pg_url, redis_url) -> dict:
    instance = tmp_path_factory.mktemp("instance-pg")
    # The cache's and the limiter's Redis settings as a deployment with REDIS_URL gets them.
    deployed = load_config({"REDIS_URL": redis_url}, instance_path=instance)
    return {
        **TEST_CONFIG,
        "INSTANCE_PATH": str(instance),
        "BACKUP_DIR": str(instance / "backups"),
        "SQLALCHEMY_DATABASE_URI": pg_url,
        "EMBEDDED_DATABASE": False,
        "REDIS_URL": redis_url,
        **{key: deployed[key] for key in ("CACHE_TYPE", "CACHE_REDIS_URL", "CACHE_OPTIONS", "RATELIMIT_STORAGE_URI",
                                          "RATELIMIT_STORAGE_OPTIONS")},
    }


@pytest.fixture(scope="session")
def app(app_config):
    """The session's app on PostgreSQL and Redis (separate from the SQLite one)."""
    return build_app(app_config)
