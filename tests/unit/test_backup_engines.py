"""How the PostgreSQL tools are called: connection through the environment, arguments as a list."""

import pytest
from sqlalchemy.engine import make_url

from app.backups import engines
from app.backups.engines import EngineError, engine_for_app
from app.backups.engines.postgres import PostgresEngine, conninfo_dbname, parse_listing


def test_the_password_travels_in_the_environment_never_on_the_command_line(monkeypatch):
    url = make_url("postgresql+psycopg2://app:s3cret%20pw@db.example:6543/saintara?sslmode=require")
    engine = PostgresEngine(url)
    env = engine.tool_env()
    assert (env["PGPASSWORD"], env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGSSLMODE"]) == (
        "s3cret pw", "db.example", "6543", "app", "require")
    seen = {}

    def recorder(cmd, env, **kwargs):
        seen.update(cmd=cmd, env=env)
        raise OSError("not really starting it")

    monkeypatch.setattr(engines.subprocess, "Popen", recorder)
    monkeypatch.setattr(engine, "tool", lambda name: f"/usr/bin/{name}")
    with pytest.raises(OSError):
        engine.restore(iter([b""]), lambda n: None)
    assert isinstance(seen["cmd"], list) and not any("s3cret" in arg for arg in seen["cmd"])
    assert seen["cmd"][0] == "/usr/bin/pg_restore" and "--single-transaction" in seen["cmd"]
    assert seen["cmd"][-1] == "--dbname=dbname='saintara'" and seen["env"]["PGPASSWORD"] == "s3cret pw"


def test_a_database_name_cannot_become_an_option_or_a_parameter():
    assert conninfo_dbname("x' host=evil") == "dbname='x\\' host=evil'"
    assert conninfo_dbname("back\\slash") == "dbname='back\\\\slash'"
    assert conninfo_dbname("-f/etc/passwd") == "dbname='-f/etc/passwd'"


def test_listing_parser_reads_table_data_entries():
    listing = """;
; Archive created at 2026-11-26 03:00:00 UTC
215; 1259 16390 TABLE public users postgres
3380; 0 16390 TABLE DATA public users postgres
3381; 0 16399 TABLE DATA public my table postgres
3382; 0 16400 TABLE DATA audit entries postgres
3383; 0 0 SEQUENCE SET public users_id_seq postgres
"""
    assert parse_listing(listing) == {"users", "my table", "audit.entries"}


def test_missing_tools_and_unsupported_databases_are_named(app, tmp_path):
    engine = PostgresEngine(make_url("postgresql://x@h/d"), bin_dir=str(tmp_path))
    with pytest.raises(EngineError, match="pg_dump is not installed"):
        engine.tool("pg_dump")
    with app.app_context():
        saved = app.config["SQLALCHEMY_DATABASE_URI"]
        try:
            app.config["SQLALCHEMY_DATABASE_URI"] = "mysql://x@h/d"
            with pytest.raises(EngineError, match="not mysql"):
                engine_for_app()
        finally:
            app.config["SQLALCHEMY_DATABASE_URI"] = saved
