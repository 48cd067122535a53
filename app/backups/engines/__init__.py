"""Database engines: how a database is dumped, listed, drilled and restored.

:class:`~app.backups.engines.postgres.PostgresEngine` drives ``pg_dump``/``pg_restore``;
:class:`~app.backups.engines.sqlite.SqliteEngine` uses SQLite's online backup API for the
embedded default. Both describe a database the same way (:class:`Snapshot`), so the
service compares a manifest with a drill or a restore without knowing which it is.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy.engine import make_url


class EngineError(Exception):
    """A database tool failed; the message names the tool and its last error line."""


@dataclass(frozen=True)
class Snapshot:
    """What a database holds at one instant: the figures a manifest records and a drill checks."""

    database: str
    server_version: str
    alembic_revision: str | None
    tables: dict[str, int] = field(default_factory=dict)
    chain_head_id: int | None = None
    chain_head_hash: str | None = None
    dump_tool: str = ""


CHAIN_HEAD_SQL = "SELECT id, hash FROM audit_logs ORDER BY id DESC LIMIT 1"


def engine_for_app(app=None):
    """The engine of the app's database (PostgreSQL or the embedded SQLite file)."""
    from app.backups.engines.postgres import PostgresEngine
    from app.backups.engines.sqlite import SqliteEngine

    app = app or current_app
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    scratch = Path(app.config["BACKUP_DIR"]) / ".incoming"
    if url.get_backend_name() == "postgresql":
        return PostgresEngine(url, bin_dir=app.config.get("BACKUP_PG_BIN_DIR"))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return SqliteEngine(Path(url.database), scratch)
    raise EngineError(f"backups support PostgreSQL and SQLite files, not {url.get_backend_name()}")


class ToolRun:
    """A database tool fed from Python and read by threads (no pipe can fill up and block)."""

    def __init__(self, cmd: list[str], env: dict, *, stdin: bool = False, stdout: bool = False):
        self.name = Path(cmd[0]).name
        self.process = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                        stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        self._stderr: list[bytes] = []
        self._stdout: list[bytes] = []
        self._readers = [threading.Thread(target=self._collect, args=(self.process.stderr, self._stderr), daemon=True)]
        if stdout and stdin:
            self._readers.append(
                threading.Thread(target=self._collect, args=(self.process.stdout, self._stdout), daemon=True))
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _collect(stream, sink: list[bytes]) -> None:
        for line in iter(lambda: stream.read(65536), b""):
            sink.append(line)

    def feed(self, chunks: Iterable[bytes], on_bytes: Callable[[int], None] | None = None,
             *, drain: bool = False) -> None:
        """Write ``chunks`` to the tool's input; with ``drain``, keep consuming them after it stops reading."""
        stdin = self.process.stdin
        try:
            for chunk in chunks:
                if stdin is not None:
                    try:
                        stdin.write(chunk)
                    except BrokenPipeError:
                        stdin = None
                        if not drain:
                            break
                if on_bytes:
                    on_bytes(len(chunk))
            if stdin is not None:
                stdin.close()
        except BaseException:
            self.kill()
            raise

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for reader in self._readers:
            reader.join()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()

    def finish(self, what: str) -> str:
        """Wait for the tool; its output as text, or :class:`EngineError` when it failed."""
        code = self.process.wait()
        for reader in self._readers:
            reader.join()
        self._close_pipes()
        errors = b"".join(self._stderr).decode("utf-8", "replace").strip()
        if code != 0:
            last = errors.splitlines()[-1] if errors else f"exit status {code}"
            reason = f"killed by signal {-code}" if code < 0 else last
            raise EngineError(f"{self.name} failed while {what}: {reason}")
        return b"".join(self._stdout).decode("utf-8", "replace")
