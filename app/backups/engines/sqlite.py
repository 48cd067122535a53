"""SQLite (the embedded default): the online backup API gives a consistent copy of a live file."""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from sqlalchemy.engine import URL

from app.backups.codec import ArtifactDamaged, file_chunks
from app.backups.engines import CHAIN_HEAD_SQL, Snapshot


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def inspect_connection(conn: sqlite3.Connection, database: str) -> Snapshot:
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "ORDER BY name")]
    tables = {name: conn.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0] for name in names}  # noqa: S608
    revision = head_id = head_hash = None
    if "alembic_version" in tables:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = row[0] if row else None
    if "audit_logs" in tables:
        row = conn.execute(CHAIN_HEAD_SQL).fetchone()
        head_id, head_hash = (row[0], row[1]) if row else (None, None)
    return Snapshot(database, sqlite3.sqlite_version, revision, tables, head_id, head_hash,
                    dump_tool=f"SQLite {sqlite3.sqlite_version} online backup API")


class SqliteEngine:
    name = "sqlite"
    extension = "sqlite"

    def __init__(self, path: Path, scratch_dir: Path):
        self.path = path
        self.database = path.name
        self.scratch_dir = scratch_dir

    @contextlib.contextmanager
    def _scratch_file(self) -> Iterator[Path]:
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        path = self.scratch_dir / f"sqlite-{secrets.token_hex(6)}.db"
        try:
            yield path
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(path) + suffix).unlink(missing_ok=True)

    def _connect(self, path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        return conn

    def inspect(self) -> Snapshot:
        conn = self._connect(self.path)
        try:
            return inspect_connection(conn, self.database)
        finally:
            conn.close()

    def size_estimate(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def dump(self, writer, on_bytes: Callable[[int], None]) -> Snapshot:
        """Copy the live file with the online backup API, describe the copy, stream it into ``writer``."""
        with self._scratch_file() as copy:
            source, target = self._connect(self.path), self._connect(copy)
            try:
                source.backup(target)
                target.execute("PRAGMA journal_mode=DELETE")
                snapshot = inspect_connection(target, self.database)
            finally:
                target.close()
                source.close()
            for chunk in file_chunks(copy):
                writer.write(chunk)
                on_bytes(len(chunk))
        return snapshot

    def _materialise(self, chunks: Iterable[bytes], path: Path, on_bytes=None) -> sqlite3.Connection:
        with open(path, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                if on_bytes:
                    on_bytes(len(chunk))
        conn = self._connect(path)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ArtifactDamaged(f"the archive is not a usable SQLite database ({exc})") from None
        if result != "ok":
            conn.close()
            raise ArtifactDamaged(f"the archive fails SQLite's integrity check ({result})")
        return conn

    def list_tables(self, chunks: Iterable[bytes]) -> set[str]:
        with self._scratch_file() as path:
            conn = self._materialise(chunks, path)
            try:
                return set(inspect_connection(conn, self.database).tables)
            finally:
                conn.close()

    def drill(self, chunks: Iterable[bytes], on_bytes, examine: Callable | None = None) -> Snapshot:
        """Materialise a scratch copy, describe it, let ``examine(url)`` work on it, delete it."""
        with self._scratch_file() as path:
            conn = self._materialise(chunks, path, on_bytes)
            try:
                snapshot = inspect_connection(conn, self.database)
            finally:
                conn.close()
            if examine is not None:
                examine(URL.create("sqlite", database=str(path)))
            return snapshot

    def restore(self, chunks: Iterable[bytes], on_bytes) -> None:
        """Copy the archive over the live file with the backup API (one locked, all-or-nothing step)."""
        with self._scratch_file() as path:
            source = self._materialise(chunks, path, on_bytes)
            target = self._connect(self.path)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()

    def drop_tables_not_in(self, keep: set[str]) -> list[str]:
        return []  # the backup API replaces the whole file: no table of the old one survives
