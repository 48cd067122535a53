"""Database plumbing: column types, engine tuning and the transaction boundary.

Services never commit. The request boundary below commits once when a request
succeeds and rolls back otherwise; CLI commands and jobs use :func:`transaction`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import Flask, Response
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import DateTime, event
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from app.extensions import db

LIKE_ESCAPE = "\\"


def escape_like(term: str) -> str:
    """``term`` for a LIKE pattern (with ``escape=LIKE_ESCAPE``): its ``%`` and ``_`` match only themselves."""
    return term.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def contains_pattern(term: str) -> str:
    """A LIKE pattern that finds ``term`` anywhere: ``column.like(contains_pattern(q), escape=LIKE_ESCAPE)``."""
    return f"%{escape_like(term)}%"


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC that always comes back timezone-aware.

    PostgreSQL keeps ``timestamptz``; SQLite has no zone, so values are normalised
    to UTC on the way in and marked as UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value if value.tzinfo is UTC else value.astimezone(UTC)


def _configure_sqlite(engine: Engine) -> None:
    """Foreign keys, WAL and real transactions (SAVEPOINT included) for pysqlite."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN")


def init_app(app: Flask) -> None:
    """Tune the engine for its dialect and install the per-request transaction boundary."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine)
    install_session_hooks()

    @app.after_request
    def _commit_or_roll_back(response: Response) -> Response:
        if response.status_code < 400:
            db.session.commit()
        else:
            roll_back()
        return response

    @app.teardown_request
    def _roll_back_on_error(exc: BaseException | None) -> None:
        if exc is not None:
            roll_back()


_AFTER_ROLL_BACK: list = []


def on_roll_back(callback) -> None:
    """Run ``callback()`` after every rollback by a transaction boundary (idempotent).

    The audit log registers here to write the entries of refused attempts, which must
    survive the rollback of the change they refused.
    """
    if callback not in _AFTER_ROLL_BACK:
        _AFTER_ROLL_BACK.append(callback)


def roll_back() -> None:
    """Roll back the unit of work, then run the :func:`on_roll_back` callbacks."""
    db.session.rollback()
    for callback in _AFTER_ROLL_BACK:
        try:
            callback()
        except Exception:  # the database may be the very thing that failed
            db.session.rollback()
            logging.getLogger(__name__).exception("after-rollback callback %r failed", callback)


_AFTER_COMMIT = "after_commit_callbacks"


def after_commit(callback) -> None:
    """Run ``callback()`` once the current transaction has committed (never on rollback).

    For work that must not happen before the data is durable: clearing caches that
    other workers would refill with old values, enqueuing background jobs.
    """
    session = db.session()
    if not session.in_transaction():
        session.begin()
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def _run_after_commit(session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, ()):
        try:
            callback()
        except Exception:  # the commit stands; a failed follow-up must not undo it
            logging.getLogger(__name__).exception("after-commit callback %r failed", callback)


def _drop_after_commit(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_AFTER_COMMIT, None)


def install_session_hooks() -> None:
    """Register the after-commit machinery on Flask-SQLAlchemy's session class (idempotent)."""
    if not event.contains(FlaskSession, "after_commit", _run_after_commit):
        event.listen(FlaskSession, "after_commit", _run_after_commit)
        event.listen(FlaskSession, "after_soft_rollback", _drop_after_commit)


@contextmanager
def transaction() -> Iterator[None]:
    """One unit of work for CLI commands and background jobs: commit or roll back."""
    try:
        yield
        db.session.commit()
    except BaseException:
        roll_back()
        raise


def in_transaction(func):
    """Decorate a CLI command so that its work commits on success and rolls back on error."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with transaction():
            return func(*args, **kwargs)

    return wrapper
