"""Structured logs: every log record is one JSON line on stderr, secrets redacted.

Fields: ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger``, ``message``,
``request_id`` (inside a request), any structured extras (the request line adds
``user_id``, ``method``, ``route``, ``status``, ``duration_ms``), and ``exception``.
JSON encoding escapes CR, LF and every other control character, so a value can never
start a line of its own. Token-, password- and code-looking values are replaced by
``[REDACTED]`` before anything is written (:func:`redact`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from flask import Flask, g, has_app_context, has_request_context, request

REDACTED = "[REDACTED]"
# Structured fields a record may carry (``logger.info(..., extra={...})``).
FIELDS = ("request_id", "user_id", "method", "route", "status", "duration_ms", "remote_addr", "limit", "event")
_PATTERNS = (
    (re.compile(r"\bsat_[A-Za-z0-9_-]{6,}"), "sat_" + REDACTED),  # our API tokens
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 " + REDACTED),
    (re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|otp|totp|code|csrf_token|session)"
                r"(\"?'?\s*[:=]\s*\"?'?)(?!\[REDACTED\]|\[Filtered\])([^\s&\"',;}]+)"), r"\1\2" + REDACTED),
)


SAFE_HEADERS = frozenset({"host", "user-agent", "accept", "accept-language", "accept-encoding", "content-type",
                          "content-length", "x-request-id", "x-forwarded-proto"})
MIN_SECRET_LENGTH = 6  # shorter values (yes, on, 1) are too common to cut out of text


def leaves(value, found: set[str]) -> None:
    """Add every scalar inside ``value`` (and its words) of at least MIN_SECRET_LENGTH characters."""
    if isinstance(value, dict):
        for item in value.values():  # field names stay: they are the shape, not the secret
            leaves(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            leaves(item, found)
    elif isinstance(value, (str, bytes, int, float)) and not isinstance(value, bool):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        if len(text) >= MIN_SECRET_LENGTH:
            found.add(text)
            found.update(part for part in text.split() if len(part) >= MIN_SECRET_LENGTH)


def text_values(text: str, found: set[str]) -> None:
    """A raw body's values: as a whole, as a form (a=1&b=2) and as JSON."""
    leaves(text, found)
    leaves([value for _key, value in parse_qsl(text)], found)
    with contextlib.suppress(ValueError):
        leaves(json.loads(text), found)


def request_values() -> set[str]:
    """Every value the current request carried (body, query, cookies, non-trivial headers)."""
    found: set[str] = set()
    if not has_request_context():
        return found
    try:
        leaves([v for k, v in request.headers.items() if k.lower() not in SAFE_HEADERS], found)
        leaves(list(request.cookies.values()), found)
        leaves([v for _k, v in request.args.items(multi=True)], found)
        leaves([v for _k, v in request.form.items(multi=True)], found)
        text_values(request.get_data(cache=True)[:65536].decode("utf-8", "replace"), found)
    except Exception:  # noqa: S110 (an unreadable body, too large or cut off, has nothing more to give)
        pass
    return found


def cut(text: str, values) -> str:
    """``text`` redacted, with each of ``values`` replaced by [REDACTED] (longest first)."""
    text = redact(text)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def redact(text: str) -> str:
    """``text`` with token-, password- and code-looking values replaced by [REDACTED]."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Warnings and errors raised while handling a request may quote what it carried.
        carried = (sorted(request_values(), key=len, reverse=True)
                   if record.levelno >= logging.WARNING or record.exc_info else ())
        payload["message"] = cut(payload["message"], carried)
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                payload[name] = redact(value) if isinstance(value, str) else value
        if "request_id" not in payload and has_app_context() and g.get("request_id"):
            payload["request_id"] = g.request_id
        if record.exc_info:
            payload["exception"] = cut(self.formatException(record.exc_info), carried)
        return json.dumps(payload, ensure_ascii=True, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self):
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def init_app(app: Flask) -> None:
    """Send every log record, the portal's and its libraries', to stderr as JSON lines."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)  # a second app in one process (tests) replaces the first's
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    # Libraries speak up from WARNING; the portal's own modules from LOG_LEVEL (default WARNING);
    # the request line (saintara.request, INFO) is always written.
    root.setLevel(logging.WARNING)
    logging.getLogger("app").setLevel(app.config.get("LOG_LEVEL", "WARNING"))
    logging.getLogger("saintara").setLevel(logging.INFO)
    app.config["LOGGING_CONFIGURED"] = True
