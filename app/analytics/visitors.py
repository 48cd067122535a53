"""Pseudonymous visitor ids: a keyed hash of the account under a random salt of the local day.

``visitor_id(user_id, day)`` is HMAC-SHA256(salt of ``day``, "user:<id>") cut to 16 bytes. The
salt is random, one per local day (DISPLAY_TIMEZONE), shared by every worker through
``analytics_salts`` (created by whichever worker needs it first: INSERT ... ON CONFLICT DO
NOTHING, then read back) and remembered in the process for the day. ``flask analytics
purge`` deletes the salts of past days: after that the ids of those days cannot be computed
again by anyone, so one day's visitor cannot be linked to another day's, nor to the account.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.analytics.models import VISITOR_BYTES, AnalyticsActiveWeek, AnalyticsEvent, AnalyticsSalt
from app.extensions import db

_lock = threading.Lock()
_salts: dict[date, bytes] = {}  # this process's salts, today's (and at midnight, yesterday's) only


def local_day(moment: datetime) -> date:
    """The day ``moment`` (aware) falls on in the portal's display time zone."""
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def _independent_session() -> Session:
    """A session of its own on the request's bind: the salt must not wait for (or roll back
    with) the request's transaction, since other workers may use it at once."""
    return Session(bind=db.session.get_bind())


def _load_or_create(day: date) -> bytes:
    with _independent_session() as session:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(AnalyticsSalt).values(day=day, salt=secrets.token_bytes(32))
                        .on_conflict_do_nothing(index_elements=["day"]))
        salt = session.scalar(select(AnalyticsSalt.salt).where(AnalyticsSalt.day == day))
        session.commit()
    return bytes(salt)


def salt_for(day: date) -> bytes:
    """The salt of ``day``: from this process's memory, else the database (created on first use)."""
    salt = _salts.get(day)
    if salt is None:
        with _lock:
            salt = _salts.get(day) or _load_or_create(day)
            for older in [d for d in _salts if d < day]:
                del _salts[older]
            _salts[day] = salt
    return salt


def _keyed(salt: bytes, user_id: int) -> bytes:
    return hmac.new(salt, f"user:{int(user_id)}".encode(), hashlib.sha256).digest()[:VISITOR_BYTES]


def visitor_id(user_id: int, day: date) -> bytes:
    """The pseudonymous id of account ``user_id`` on local ``day`` (16 bytes)."""
    return _keyed(salt_for(day), user_id)


def forget_account(user_id: int) -> int:
    """Delete account ``user_id``'s raw events of every day whose salt still exists (today's, and
    yesterday's until the purge ran), on the caller's transaction; returns how many.

    Those are the only events that can still be linked to the account: for every other day the
    salt is gone. Creates no salt. The daily rollup keeps its counts (they name nobody). The
    account's last recorded active week goes too.
    """
    db.session.execute(delete(AnalyticsActiveWeek).where(AnalyticsActiveWeek.user_id == user_id))
    deleted = 0
    for day, salt in db.session.execute(select(AnalyticsSalt.day, AnalyticsSalt.salt)).all():
        deleted += db.session.execute(delete(AnalyticsEvent).where(
            AnalyticsEvent.day == day, AnalyticsEvent.visitor == _keyed(bytes(salt), user_id))).rowcount or 0
    return deleted


def on_key_destroyed(kind: str, ref_id: int) -> None:
    """Registered with the erasure ledger: an erased account's linkable events go with its key."""
    if kind == "user":
        forget_account(ref_id)


def delete_salts_before(day: date) -> int:
    """Delete the salts of the days before ``day`` (on the caller's transaction); returns how many."""
    with _lock:
        for older in [d for d in _salts if d < day]:
            del _salts[older]
    return db.session.execute(delete(AnalyticsSalt).where(AnalyticsSalt.day < day)).rowcount or 0


def forget_cached_salts() -> None:
    """Drop this process's salts (tests, whose rollbacks remove the rows behind them)."""
    with _lock:
        _salts.clear()
