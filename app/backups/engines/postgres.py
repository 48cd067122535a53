"""PostgreSQL: ``pg_dump`` (custom format, uncompressed: we compress) and ``pg_restore``.

Tools get every connection parameter, the password included, through the environment
(PGHOST, PGPASSWORD, ...), never on their command line; arguments are lists, never a
shell string; the database name travels as a quoted ``dbname='...'`` so no name can
turn into an option or a connection parameter.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import ISOLATION_LEVEL_REPEATABLE_READ

from app.backups.engines import CHAIN_HEAD_SQL, EngineError, Snapshot, ToolRun

READ_SIZE = 1024 * 1024
_LIBPQ_ENV = {
    "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT", "passfile": "PGPASSFILE", "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS", "gssencmode": "PGGSSENCMODE",
}
_TABLES_SQL = """
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
    ORDER BY 1, 2
"""


def table_key(schema: str, name: str) -> str:
    return name if schema == "public" else f"{schema}.{name}"


def conninfo_dbname(name: str) -> str:
    """``dbname='...'`` with libpq quoting: the value can never become another parameter."""
    return "dbname='" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_listing(listing: str) -> set[str]:
    """Tables whose data a ``pg_restore --list`` output contains."""
    tables = set()
    for line in listing.splitlines():
        if line.startswith(";") or " TABLE DATA " not in line:
            continue
        schema, rest = line.split(" TABLE DATA ", 1)[1].split(" ", 1)
        tables.add(table_key(schema, rest.rsplit(" ", 1)[0]))
    return tables


class PostgresEngine:
    name = "postgresql"
    extension = "pgdump"

    def __init__(self, url, bin_dir: str | None = None):
        self.url = url
        self.database = url.database
        self.bin_dir = bin_dir

    # -- plumbing -----------------------------------------------------------------
    def tool(self, name: str) -> str:
        path = str(Path(self.bin_dir) / name) if self.bin_dir else shutil.which(name)
        if not path or not os.access(path, os.X_OK):
            raise EngineError(f"{name} is not installed (install postgresql-client, or set BACKUP_PG_BIN_DIR)")
        return path

    def tool_env(self) -> dict:
        """The environment for pg_dump/pg_restore: libpq variables from the database URL."""
        env = dict(os.environ)
        for key, var in (("host", "PGHOST"), ("port", "PGPORT"), ("username", "PGUSER"),
                         ("password", "PGPASSWORD"), ("database", "PGDATABASE")):
            value = getattr(self.url, key)
            if value is not None:
                env[var] = str(value)
        for key, value in self.url.query.items():
            if key in _LIBPQ_ENV:
                env[_LIBPQ_ENV[key]] = str(value if isinstance(value, str) else value[-1])
        env["PGAPPNAME"] = "saintara-backups"
        return env

    def connect(self, database: str | None = None):
        args = self.url.translate_connect_args(username="user", database="dbname")
        args.update({k: v for k, v in self.url.query.items() if isinstance(v, str)})
        if database is not None:
            args["dbname"] = database
        args.setdefault("application_name", "saintara-backups")
        return psycopg2.connect(**args)

    def tool_version(self, name: str) -> str:
        return subprocess.run([self.tool(name), "--version"], capture_output=True, text=True,
                              check=True).stdout.strip()

    # -- reading a database ---------------------------------------------------------
    def _inspect_cursor(self, cur, database: str, on_table: Callable[[], None] | None = None) -> Snapshot:
        cur.execute("SHOW server_version")
        server_version = cur.fetchone()[0]
        cur.execute(_TABLES_SQL)
        names = cur.fetchall()
        tables = {}
        for schema, name in names:
            cur.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(name)))
            tables[table_key(schema, name)] = cur.fetchone()[0]
            if on_table:
                on_table()
        revision = head_id = head_hash = None
        if "alembic_version" in tables:
            cur.execute("SELECT version_num FROM alembic_version")
            row = cur.fetchone()
            revision = row[0] if row else None
        if "audit_logs" in tables:
            cur.execute(CHAIN_HEAD_SQL)
            row = cur.fetchone()
            head_id, head_hash = (row[0], row[1]) if row else (None, None)
        return Snapshot(database, server_version, revision, tables, head_id, head_hash)

    def inspect(self, database: str | None = None) -> Snapshot:
        """Row counts, schema revision and audit chain head of a database (the live one by default)."""
        database = database or self.database
        conn = self.connect(database)
        try:
            conn.set_session(isolation_level=ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
            with conn.cursor() as cur:
                return self._inspect_cursor(cur, database)
        finally:
            conn.close()

    def size_estimate(self) -> int:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_database_size(current_database())")
                return int(cur.fetchone()[0])
        finally:
            conn.close()

    # -- dump -----------------------------------------------------------------------
    def dump(self, writer, on_bytes: Callable[[int], None]) -> Snapshot:
        """Stream a custom-format dump into ``writer``; the counts come from the dump's own snapshot."""
        conn = self.connect()
        try:
            conn.set_session(isolation_level=ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
            cur = conn.cursor()
            cur.execute("SELECT pg_export_snapshot()")
            snapshot_id = cur.fetchone()[0]
            run = ToolRun([self.tool("pg_dump"), "--format=custom", "--compress=0", "--no-password",
                           f"--snapshot={snapshot_id}", "--dbname=" + conninfo_dbname(self.database)],
                          self.tool_env(), stdout=True)
            counted: dict = {}
            counter = threading.Thread(target=lambda: counted.update(
                snapshot=self._inspect_cursor(cur, self.database)), daemon=True)
            counter.start()  # counting in the same snapshot, while pg_dump streams
            try:
                while chunk := run.process.stdout.read(READ_SIZE):
                    writer.write(chunk)
                    on_bytes(len(chunk))
            except BaseException:
                run.kill()
                raise
            finally:
                counter.join()
            run.finish("dumping the database")
            if "snapshot" not in counted:
                raise EngineError("could not count the rows of the dumped tables")
            snapshot = counted["snapshot"]
            conn.rollback()
        finally:
            conn.close()
        return Snapshot(**{**snapshot.__dict__, "dump_tool": self.tool_version("pg_dump")})

    # -- reading an archive --------------------------------------------------------
    def list_tables(self, chunks: Iterable[bytes]) -> set[str]:
        """``pg_restore --list`` over the decoded archive; returns the tables it holds data for."""
        run = ToolRun([self.tool("pg_restore"), "--list"], self.tool_env(), stdin=True, stdout=True)
        run.feed(chunks, drain=True)  # the whole stream is decoded, so damage anywhere is found
        return parse_listing(run.finish("reading the archive's table of contents"))

    def _restore(self, chunks: Iterable[bytes], database: str, on_bytes, *, clean: bool) -> None:
        cmd = [self.tool("pg_restore"), "--single-transaction", "--exit-on-error", "--no-owner",
               "--no-privileges", "--no-password"]
        if clean:
            cmd += ["--clean", "--if-exists"]
        run = ToolRun(cmd + ["--dbname=" + conninfo_dbname(database)], self.tool_env(), stdin=True)
        run.feed(chunks, on_bytes)
        run.finish(f"restoring into {database}")

    def drill(self, chunks: Iterable[bytes], on_bytes, examine: Callable | None = None) -> Snapshot:
        """Restore into a new scratch database, describe it, let ``examine(url)`` work on it
        (the description comes first), and drop it (always)."""
        scratch = f"{self.database[:40]}_drill_{secrets.token_hex(4)}"
        admin = self.connect()
        admin.autocommit = True
        try:
            with admin.cursor() as cur:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
            try:
                self._restore(chunks, scratch, on_bytes, clean=False)
                snapshot = self.inspect(scratch)
                if examine is not None:
                    examine(self.url.set(database=scratch))
                return snapshot
            finally:
                with admin.cursor() as cur:
                    cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
        finally:
            admin.close()

    def restore(self, chunks: Iterable[bytes], on_bytes) -> None:
        """Replace the live database's objects with the archive's, in one transaction."""
        self._restore(chunks, self.database, on_bytes, clean=True)

    def drop_tables_not_in(self, keep: set[str]) -> list[str]:
        """Drop live tables that the archive lacks (it comes from an older schema).

        Lists the tables only: counting their rows (:meth:`inspect`) would read the whole
        database once more just before the restore replaces it."""
        conn = self.connect()
        try:
            with conn, conn.cursor() as cur:
                cur.execute(_TABLES_SQL)
                extra = sorted(set(table_key(schema, name) for schema, name in cur.fetchall()) - keep)
                for key in extra:
                    schema, _, name = key.rpartition(".")
                    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}.{} CASCADE").format(
                        sql.Identifier(schema or "public"), sql.Identifier(name)))
        finally:
            conn.close()
        return extra
