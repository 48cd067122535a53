"""The Sentry tunnel: browser envelopes are posted to this site and sent on from the server,
so that no browser request leaves for another origin.

:func:`check_envelope` accepts only what the portal's own SDK sends: an envelope whose header
names the configured browser DSN (same key, host, port and project), with at most
MAX_ITEMS items of the kinds in ITEM_TYPES, each well formed. The :class:`Forwarder` posts the
accepted bytes unchanged to that DSN's envelope endpoint from a background thread (a bounded
queue: a slow or absent Sentry never holds a request worker; when the queue is full the
browser is told to wait, as Sentry's own 429 would).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from flask_babel import lazy_gettext as _l

from app.inputs import InvalidInput, text

log = logging.getLogger(__name__)
MAX_ENVELOPE_BYTES = 1024 * 1024  # a replay segment is compressed; Sentry's own cap is larger
MAX_ITEMS = 20
ITEM_TYPES = frozenset({"event", "replay_event", "replay_recording", "client_report", "session", "sessions"})
REPLAY_ITEM_TYPES = frozenset({"replay_event", "replay_recording"})


class RefusedEnvelope(InvalidInput):
    """The body is not an envelope the portal's SDK sends for its DSN; ``code`` is stable for the JSON error."""

    def __init__(self, message, code: str = "invalid_envelope"):
        super().__init__(message, "body")
        self.code = code


@dataclass(frozen=True)
class BrowserDsn:
    scheme: str
    host: str
    port: int | None
    path: str
    public_key: str
    project_id: str

    @classmethod
    def parse(cls, dsn: str) -> BrowserDsn:
        """The parts of a DSN (``scheme://key@host[:port][/path]/project``); ValueError when it is not one."""
        parts = urlsplit(dsn)
        path, _slash, project = parts.path.rpartition("/")
        if parts.scheme not in ("http", "https") or not parts.hostname or not parts.username or not project.isdigit():
            raise ValueError("not a Sentry DSN")
        return cls(parts.scheme, parts.hostname.lower(), parts.port, path, parts.username, project)

    def envelope_url(self) -> str:
        """Where Sentry takes this project's envelopes."""
        port = f":{self.port}" if self.port else ""
        query = urlencode({"sentry_key": self.public_key, "sentry_version": "7"})
        return f"{self.scheme}://{self.host}{port}{self.path}/api/{self.project_id}/envelope/?{query}"


@dataclass(frozen=True)
class Envelope:
    body: bytes
    item_types: tuple[str, ...]

    @property
    def is_replay(self) -> bool:
        return any(kind in REPLAY_ITEM_TYPES for kind in self.item_types)


def _json_line(line: bytes, what: str) -> dict:
    try:
        value = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RefusedEnvelope(_l("The %(part)s of the envelope is not JSON.", part=what)) from None
    if not isinstance(value, dict):
        raise RefusedEnvelope(_l("The %(part)s of the envelope is not a JSON object.", part=what))
    return value


def check_envelope(body: bytes, dsn: BrowserDsn) -> Envelope:
    """``body`` as an :class:`Envelope` for ``dsn``; raises RefusedEnvelope (code ``wrong_dsn`` for
    another DSN or project, ``too_large`` over MAX_ENVELOPE_BYTES, else ``invalid_envelope``)."""
    if len(body) > MAX_ENVELOPE_BYTES:
        raise RefusedEnvelope(_l("The envelope is too large."), "too_large")
    header_line, newline, rest = body.partition(b"\n")
    header = _json_line(header_line, _l("header"))
    raw_dsn = header.get("dsn")
    try:
        named = BrowserDsn.parse(text(raw_dsn, max_length=500) or "") if isinstance(raw_dsn, str) else None
    except ValueError:
        named = None
    if named is None or (named.host, named.port, named.public_key, named.project_id) != (
            dsn.host, dsn.port, dsn.public_key, dsn.project_id):
        raise RefusedEnvelope(_l("The envelope is not for this site's Sentry project."), "wrong_dsn")
    kinds = []
    while newline and rest.strip():
        if len(kinds) == MAX_ITEMS:
            raise RefusedEnvelope(_l("The envelope has too many items."))
        item_line, newline, rest = rest.partition(b"\n")
        item = _json_line(item_line, _l("item header"))
        kind = text(item.get("type"), max_length=40) if isinstance(item.get("type"), str) else None
        if kind not in ITEM_TYPES:
            raise RefusedEnvelope(_l("The envelope holds an item this site does not send."))
        length = item.get("length")
        if length is None:
            _payload, newline, rest = rest.partition(b"\n")
        elif isinstance(length, int) and not isinstance(length, bool) and 0 <= length <= len(rest):
            rest = rest[length:]
            if rest[:1] not in (b"", b"\n"):
                raise RefusedEnvelope(_l("An item of the envelope is longer than its header says."))
            newline, rest = rest[:1], rest[1:]
        else:
            raise RefusedEnvelope(_l("An item of the envelope has a wrong length."))
        kinds.append(kind)
    if not kinds:
        raise RefusedEnvelope(_l("The envelope is empty."))
    return Envelope(body, tuple(kinds))


class Forwarder:
    """Posts accepted envelopes to Sentry from one background thread per process (started on first
    use, so that a forking server starts it in each worker)."""

    def __init__(self, *, timeout: float = 5.0, capacity: int = 200, opener=urllib.request.urlopen):
        self.timeout = timeout
        self.opener = opener
        self.queue: queue.Queue[tuple[str, bytes]] = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self._pid: int | None = None

    def submit(self, url: str, body: bytes) -> bool:
        """Queue ``body`` for ``url``; False when the queue is full (the caller answers 429)."""
        self._ensure_thread()
        try:
            self.queue.put_nowait((url, body))
        except queue.Full:
            return False
        return True

    def send(self, url: str, body: bytes) -> int:
        """Post one envelope now; returns Sentry's status (raises OSError when it cannot be reached)."""
        # The address is the configured DSN's (BrowserDsn.envelope_url: http or https only), never the browser's.
        request = urllib.request.Request(url, data=body, method="POST",  # noqa: S310
                                         headers={"Content-Type": "application/x-sentry-envelope"})
        try:
            with self.opener(request, timeout=self.timeout) as response:
                return response.status
        except urllib.error.HTTPError as refused:
            with refused:
                return refused.code

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="sentry-tunnel", daemon=True).start()

    def _run(self) -> None:
        while True:
            url, body = self.queue.get()
            try:
                status = self.send(url, body)
                if status >= 400:
                    log.warning("sentry tunnel: Sentry answered %s", status)
            except Exception:  # Sentry unreachable: this envelope is lost, the portal carries on
                log.warning("sentry tunnel: could not reach Sentry", exc_info=True)
            finally:
                self.queue.task_done()
