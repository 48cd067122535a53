"""Shared plumbing of the benchmarks: a scratch PostgreSQL database and an app bound to it."""

from __future__ import annotations

import fcntl
import os
import statistics
import sys
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parents[2]
_HERE = Path(__file__).resolve().parent
# This folder holds http.py, which would hide the standard library's http package from
# every script run here: keep the folder behind everything else on the path.
sys.path[:] = [p for p in sys.path if Path(p or os.curdir).resolve() != _HERE] + [str(_HERE)]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Only this helper's Redis index (see the task); keys carry a prefix of their own too.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", f"redis://127.0.0.1:6379/{os.environ.get('TEST_REDIS_DB', '7')}")


def _admin():
    connection = psycopg2.connect(PG_ADMIN_URL)
    connection.autocommit = True
    return connection


def create_database(name: str, *, reuse: bool = False) -> tuple[str, bool]:
    """A fresh, empty database (dropped first if a previous run left it), or with ``reuse``
    the one a previous ``--keep`` run left. Returns its URL and whether it was reused."""
    assert name.startswith("saintara_bench_"), "benchmarks only ever touch their own databases"
    connection = _admin()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        reused = reuse and cursor.fetchone() is not None
        if not reused:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    connection.close()
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://") + "/" + name, reused


def drop_database(name: str) -> None:
    assert name.startswith("saintara_bench_")
    connection = _admin()
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    connection.close()


def make_app(database_url: str, *, redis: bool = False):
    """The portal on the bench database, migrated."""
    from flask_migrate import upgrade

    from app import create_app
    from app.config import TEST_CONFIG

    config = {**TEST_CONFIG, "INSTANCE_PATH": str(ROOT / "instance" / "bench"), "SQLALCHEMY_DATABASE_URI": database_url,
              "EMBEDDED_DATABASE": False, "REDIS_URL": None}
    if redis:
        config.update(REDIS_URL=REDIS_URL, CACHE_TYPE="RedisCache", CACHE_REDIS_URL=REDIS_URL,
                      CACHE_KEY_PREFIX="saintara-bench:", RATELIMIT_STORAGE_URI=REDIS_URL)
    app = create_app(config)
    with app.app_context():
        upgrade()
    return app


@contextmanager
def bench_database(name: str, keep: bool = False, reuse: bool = False):
    """Yields (url, reused); the database is dropped afterwards unless ``keep``."""
    url, reused = create_database(name, reuse=reuse)
    try:
        yield url, reused
    finally:
        if not keep:
            drop_database(name)
            print(f"dropped database {name}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values)


BENCH_LOCK = "/tmp/saintara-bench.lock"  # noqa: S108 (every benchmark on this machine shares it, on purpose)


@contextmanager
def bench_lock():
    """Only one benchmark times at once on this shared machine (generating data may overlap)."""
    with open(BENCH_LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LoadRecorder:
    """The 1-minute load average, sampled at the start and end of each timed phase."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    def sample(self) -> float:
        self.samples.append(os.getloadavg()[0])
        return self.samples[-1]

    def summary(self) -> str:
        if not self.samples:
            return "not sampled"
        low, high = min(self.samples), max(self.samples)
        return f"{low:.1f} to {high:.1f} (median {statistics.median(self.samples):.1f})"


@contextmanager
def unrevealed():
    """The pages as they would be if they did not reveal: sealed values shown as stored, no key
    read (only to measure what revealing costs, in the same run and at the same load)."""
    from app.personal_data import vault

    names = ("reveal", "reveal_text", "reveal_json")
    saved = {name: getattr(vault.Opener, name) for name in names}
    for name in names:
        setattr(vault.Opener, name, lambda _self, value: value)
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(vault.Opener, name, method)


def raise_page_limit() -> None:
    """One benchmark user makes hundreds of requests a minute: raise the per-user page limit so
    that it never refuses one (the check itself, its round trip and headers, is unchanged)."""
    from app.security import ratelimits

    object.__setattr__(ratelimits.PAGES_PER_USER, "limit", "1000000 per minute")


def replace_section(path: Path, heading: str, section: str) -> None:
    """Put ``section`` (which starts with ``## heading``) in place of the file's section of that
    heading, up to the next ``## `` heading, or at the file's end when it has none yet."""
    text_ = path.read_text() if path.exists() else "# Performance\n"
    start = text_.find(f"\n## {heading}\n")
    if start == -1:
        text_ = text_.rstrip("\n") + "\n\n" + section
    else:
        end = text_.find("\n## ", start + 1)
        text_ = text_[:start + 1] + section + ("" if end == -1 else "\n" + text_[end + 1:])
    path.write_text(text_.rstrip("\n") + "\n")
