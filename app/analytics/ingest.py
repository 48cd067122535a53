"""Writing events to the database, and the ingester that drains the Redis stream.

:func:`write_events` is the one bulk write: PostgreSQL COPY (CSV) on the session's own
connection, so it commits or rolls back with the session; on SQLite an executemany.

:func:`ingest_once` reads entries from the stream with a consumer group (XREADGROUP),
writes their events and the entry ids (``analytics_ingested_entries``) in one transaction,
and only after the commit acknowledges and deletes the entries. Guarantees:

- an entry is acknowledged only once its events are committed: an ingester killed at any
  point loses nothing that was acknowledged; its entries stay pending and are read again
  (by itself on restart, or claimed by another ingester after ``CLAIM_IDLE_MS``);
- an entry read again after its events were committed (killed between commit and XACK) is
  found in ``analytics_ingested_entries`` and only acknowledged: each entry is written once.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from app.analytics.buffer import Event, decode
from app.analytics.models import AnalyticsEvent, AnalyticsIngestedEntry
from app.database import utcnow
from app.extensions import db

log = logging.getLogger(__name__)

GROUP = "ingesters"
READ_COUNT = 200  # entries per read (each up to buffer.STREAM_CHUNK events)
CLAIM_IDLE_MS = 60_000  # a pending entry idle this long belongs to a dead ingester: claim it
KEEP_INGESTED = timedelta(days=2)  # ids of ingested entries: far longer than an entry can stay pending
COLUMNS = ("occurred_at", "day", "name", "path", "role", "visitor", "properties")
_COPY = f"COPY analytics_events ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)"


def _copy_rows(events: Sequence[Event]) -> io.StringIO:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for occurred, day, name, path, role, visitor, properties in events:
        writer.writerow((datetime.fromtimestamp(occurred, UTC).isoformat(), day, name, path, role, "\\x" + visitor,
                         json.dumps(properties, separators=(",", ":")) if properties else None))
    out.seek(0)
    return out


def write_events(session: Session, events: Sequence[Event]) -> int:
    """Insert ``events`` on ``session``'s transaction (COPY on PostgreSQL); returns how many."""
    if not events:
        return 0
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        with connection.connection.driver_connection.cursor() as cursor:
            cursor.copy_expert(_COPY, _copy_rows(events))
        return len(events)
    session.execute(insert(AnalyticsEvent), [
        {"occurred_at": datetime.fromtimestamp(occurred, UTC), "day": date.fromisoformat(day), "name": name,
         "path": path, "role": role, "visitor": bytes.fromhex(visitor), "properties": properties or None}
        for occurred, day, name, path, role, visitor, properties in events])
    return len(events)


def ensure_group(redis, stream: str) -> None:
    """Create the consumer group (and the stream) unless they exist."""
    try:
        redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except Exception as exc:  # redis.ResponseError BUSYGROUP: it exists
        if "BUSYGROUP" not in str(exc):
            raise


def _read(redis, stream: str, consumer: str, block_ms: int | None, count: int) -> list[tuple[str, dict]]:
    """Entries to work on: this consumer's own pending ones first, then ones idle elsewhere, then new ones."""
    own = redis.xreadgroup(GROUP, consumer, {stream: "0"}, count=count)
    entries = own[0][1] if own else []
    if not entries:
        claimed = redis.xautoclaim(stream, GROUP, consumer, min_idle_time=CLAIM_IDLE_MS, start_id="0-0",
                                   count=count)
        entries = [e for e in claimed[1] if e[1]] if claimed else []
    if not entries:
        new = redis.xreadgroup(GROUP, consumer, {stream: ">"}, count=count, block=block_ms)
        entries = new[0][1] if new else []
    return [(_text(entry_id), fields or {}) for entry_id, fields in entries]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def ingest_once(session: Session, redis, stream: str, consumer: str, *, block_ms: int | None = None,
                count: int = READ_COUNT) -> int:
    """Write one read's worth (``count`` entries) of stream entries (see the module docstring); returns
    the events written.

    Commits ``session``. Raises what the database or Redis raise (nothing is acknowledged then).
    """
    entries = _read(redis, stream, consumer, block_ms, count)
    if not entries:
        return 0
    ids = [entry_id for entry_id, _fields in entries]
    try:
        done = set(session.scalars(select(AnalyticsIngestedEntry.entry_id)
                                   .where(AnalyticsIngestedEntry.entry_id.in_(ids))))
        events = [event for entry_id, fields in entries if entry_id not in done
                  for event in decode(fields.get(b"e") or fields.get("e") or b"[]")]
        written = write_events(session, events)
        fresh = [{"entry_id": entry_id, "ingested_at": utcnow()} for entry_id in ids if entry_id not in done]
        if fresh:
            session.execute(insert(AnalyticsIngestedEntry), fresh)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    pipe = redis.pipeline(transaction=False)
    pipe.xack(stream, GROUP, *ids)
    pipe.xdel(stream, *ids)
    pipe.execute()
    return written


def pending(redis, stream: str, consumer: str) -> int:
    """How many entries ``consumer`` has read and not acknowledged."""
    summary = redis.xpending(stream, GROUP)
    return sum(int(c["pending"]) for c in summary.get("consumers") or () if _text(c["name"]) == consumer)


def forget_ingested_entries(before: datetime) -> int:
    """Delete the ids of entries ingested before ``before`` (on the caller's transaction)."""
    return db.session.execute(delete(AnalyticsIngestedEntry)
                              .where(AnalyticsIngestedEntry.ingested_at < before)).rowcount or 0

