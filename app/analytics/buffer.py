"""The per-process event buffer and its flusher: the only analytics work a request waits for
is appending one tuple to a deque.

A daemon thread per process (started on the first event, again after a fork) moves what
has gathered to a sink every ``FLUSH_SECONDS`` or as soon as ``FLUSH_EVENTS`` are waiting,
and once more when the process exits:

- with Redis (``REDIS_URL``): :class:`StreamSink` appends chunks of events to a Redis stream
  (one XADD per chunk, in one pipeline, the stream capped at ``STREAM_MAXLEN`` entries);
  ``flask analytics ingest`` writes them to the database (app.analytics.ingest);
- without it (the embedded default): :class:`DatabaseSink` writes them straight to the
  database in a transaction of its own.

An event is a tuple ``(occurred_at epoch seconds, day ISO, name, path, role, visitor hex,
properties or None)``. When a sink fails, the batch is logged and dropped: analytics must
never hold up or break the portal. The deque holds at most ``CAPACITY`` events (the oldest
are dropped beyond it, counted in ``dropped``).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence

from flask import Flask

from app import redis_clients
from app.extensions import db

log = logging.getLogger(__name__)

Event = tuple  # (occurred_at, day, name, path, role, visitor, properties)
FLUSH_SECONDS = 0.2
FLUSH_EVENTS = 500
CAPACITY = 100_000
STREAM_CHUNK = 500  # events per stream entry
STREAM_MAXLEN = 20_000  # entries (up to STREAM_CHUNK events each), trimmed approximately


def encode(events: Sequence[Event]) -> str:
    """A chunk of events as one compact JSON text (a stream entry's payload)."""
    return json.dumps(events, separators=(",", ":"))


def decode(payload: bytes | str) -> list[Event]:
    """The events of one stream entry's payload."""
    return [tuple(row) for row in json.loads(payload)]


class StreamSink:
    """Appends events to the Redis stream that ``flask analytics ingest`` drains."""

    def __init__(self, url: str, stream: str):
        self.redis, self.stream = redis_clients.client(url, timeout=2), stream

    def write(self, events: Sequence[Event]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for start in range(0, len(events), STREAM_CHUNK):
            pipe.xadd(self.stream, {"e": encode(events[start:start + STREAM_CHUNK])}, maxlen=STREAM_MAXLEN,
                      approximate=True)
        pipe.execute()


class DatabaseSink:
    """Writes events straight to the database (no Redis): one transaction per batch."""

    def __init__(self, app: Flask, writer: Callable):
        self.app, self.writer = app, writer

    def write(self, events: Sequence[Event]) -> None:
        with self.app.app_context():
            try:
                self.writer(db.session, events)
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
            finally:
                db.session.remove()


class EventBuffer:
    """A thread-safe queue of events in this process, emptied into ``sink`` by a daemon thread."""

    def __init__(self, sink, *, background: bool = True, interval: float = FLUSH_SECONDS,
                 batch: int = FLUSH_EVENTS, capacity: int = CAPACITY):
        self.sink, self.background, self.interval, self.batch = sink, background, interval, batch
        self.events: deque[Event] = deque(maxlen=capacity)
        self.dropped = 0
        self._wake = threading.Event()
        self._flushing = threading.Lock()
        self._pid: int | None = None
        self._thread: threading.Thread | None = None

    def append(self, event: Event) -> None:
        """Queue one event (the request path: O(1), no I/O)."""
        if len(self.events) == self.events.maxlen:
            self.dropped += 1
        self.events.append(event)
        if self.background and self._pid != os.getpid():
            self._start()
        if len(self.events) >= self.batch:
            self._wake.set()

    def flush(self) -> int:
        """Move every queued event to the sink now; returns how many were written (0 when it failed)."""
        with self._flushing:
            taken = []
            while self.events:
                try:
                    taken.append(self.events.popleft())
                except IndexError:
                    break
            if not taken:
                return 0
            try:
                self.sink.write(taken)
            except Exception:
                log.exception("analytics: %d events could not be written and were dropped", len(taken))
                return 0
            return len(taken)

    def _start(self) -> None:
        with self._flushing:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()  # a forked worker starts a thread of its own
            self._thread = threading.Thread(target=self._run, name="analytics-flusher", daemon=True)
            self._thread.start()
            atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()
