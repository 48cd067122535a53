"""Error tracking with Sentry (sentry-sdk's Flask integration), scrubbed before sending.

Turned on by ``SENTRY_DSN``; ``SENTRY_ENVIRONMENT``, ``SENTRY_RELEASE``,
``SENTRY_TRACES_SAMPLE_RATE`` and ``SENTRY_PROFILES_SAMPLE_RATE`` come from the
configuration too. Events carry the user's id (never the e-mail) and the request id.

:func:`scrub_event` runs as ``before_send`` *and* ``before_send_transaction`` (both
carry the request):

* the request body becomes its shape: ``{"password": "<str>"}``, ``["<str>", ...]``
  (objects, top-level arrays and raw text alike), never a value;
* headers other than a short harmless list, cookies and query-string values are
  replaced by ``[Filtered]``; the URL keeps only the templated route;
* every value the request carried in its body, headers, cookies or query string is
  then cut out of the whole event wherever it appears (exception messages,
  breadcrumbs, log messages), as are token-, password- and code-looking values;
* local variables, cookies and automatic user details are never collected
  (``data_collection``).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from flask import Flask, g, has_request_context

from app.observability.logs import SAFE_HEADERS, leaves, redact, request_values, text_values
from app.observability.requests import loaded_user_id

log = logging.getLogger(__name__)
FILTERED = "[Filtered]"
_MAX_ITEMS = 20


def shape(value, depth: int = 0):
    """The structure of a value without its contents (body data, JSON of any shape)."""
    if depth > 8:
        return "<…>"
    if isinstance(value, dict):
        items = list(value.items())
        shaped = {redact(str(key))[:64]: shape(item, depth + 1) for key, item in items[:_MAX_ITEMS]}
        if len(items) > _MAX_ITEMS:
            shaped["<…>"] = f"<{len(items) - _MAX_ITEMS} more>"
        return shaped
    if isinstance(value, (list, tuple)):
        shaped = [shape(item, depth + 1) for item in value[:_MAX_ITEMS]]
        return shaped + ([f"<{len(value) - _MAX_ITEMS} more>"] if len(value) > _MAX_ITEMS else [])
    if value is None:
        return None
    if isinstance(value, bool):
        return "<bool>"
    if isinstance(value, (int, float)):
        return "<number>"
    if isinstance(value, (str, bytes)):
        return "<str>"
    return f"<{type(value).__name__}>"


def _request_values(event_request: dict) -> set[str]:
    """Every value the request carried: what the event holds, and the live request's own."""
    found = request_values()
    data = event_request.get("data")
    if isinstance(data, (str, bytes)):
        text_values(data.decode("utf-8", "replace") if isinstance(data, bytes) else data, found)
    leaves(data, found)
    leaves(event_request.get("cookies"), found)
    for key, value in (event_request.get("headers") or {}).items():
        if str(key).lower() not in SAFE_HEADERS:
            leaves(value, found)
    leaves([value for _key, value in parse_qsl(str(event_request.get("query_string") or ""))], found)
    return found


def _cut(value, secrets: list[str]):
    if isinstance(value, str):
        value = redact(value)  # first: "password=..." must still read as such
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, FILTERED)
        return value
    if isinstance(value, dict):
        return {key: _cut(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut(item, secrets) for item in value]
    if isinstance(value, tuple):
        return tuple(_cut(item, secrets) for item in value)
    return value


def _scrub_request(event_request: dict, route: str | None) -> dict:
    scrubbed = dict(event_request)
    if "data" in scrubbed:
        data = scrubbed["data"]
        scrubbed["data"] = shape(data) if isinstance(data, (dict, list, tuple, str, bytes)) else "<removed>"
    scrubbed.pop("cookies", None)
    scrubbed.pop("env", None)
    headers = scrubbed.get("headers") or {}
    scrubbed["headers"] = {key: (value if str(key).lower() in SAFE_HEADERS else FILTERED)
                           for key, value in headers.items()}
    query = str(scrubbed.get("query_string") or "")
    if query:
        scrubbed["query_string"] = "&".join(f"{key}={FILTERED}" for key, _value in parse_qsl(query,
                                                                                             keep_blank_values=True))
    if scrubbed.get("url"):
        parts = urlsplit(str(scrubbed["url"]))
        scrubbed["url"] = urlunsplit((parts.scheme, parts.netloc, route or "/<path>", "", ""))
    return scrubbed


def scrub_event(event: dict, _hint: dict | None = None) -> dict:
    """before_send / before_send_transaction: shapes instead of values, secrets cut out everywhere."""
    try:
        event_request = event.get("request") or {}
        secrets = sorted(_request_values(event_request), key=len, reverse=True)
        route = event.get("transaction") if str(event.get("transaction") or "").startswith("/") else None
        if event_request:
            event["request"] = _scrub_request(event_request, route)
        for key in list(event):
            if key != "request":
                event[key] = _cut(event[key], secrets)
        event["request"] = _cut(event.get("request") or {}, secrets) if event_request else event.get("request")
        if not event_request:
            event.pop("request", None)
        return event
    except Exception:  # a scrubber that fails must drop the event, never send it raw
        log.exception("could not scrub a Sentry event; it was dropped")
        return None


def _attach_user_and_request_id(event: dict, _hint: dict) -> dict:
    """Event processor: the user's id (never the e-mail) and the request id, when in a request."""
    if has_request_context():
        user_id = loaded_user_id()
        if user_id is not None:
            event["user"] = {"id": str(user_id)}
        else:
            event.pop("user", None)
        if g.get("request_id"):
            event.setdefault("tags", {})["request_id"] = g.request_id
    return event


def last_event_id() -> str | None:
    """The id of the event Sentry just recorded for this request (shown on the error page)."""
    import sentry_sdk

    return sentry_sdk.last_event_id() if sentry_sdk.get_client().is_active() else None


def init_app(app: Flask) -> None:
    """Start the SDK when SENTRY_DSN is set (idempotent: a later app in one process re-initialises it)."""
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.logging import ignore_logger

    sentry_sdk.init(
        dsn=dsn,
        environment=app.config.get("SENTRY_ENVIRONMENT"),
        release=app.config.get("SENTRY_RELEASE"),
        traces_sample_rate=app.config.get("SENTRY_TRACES_SAMPLE_RATE", 0.0),
        profiles_sample_rate=app.config.get("SENTRY_PROFILES_SAMPLE_RATE", 0.0),
        integrations=[FlaskIntegration(transaction_style="url")],
        data_collection={
            "user_info": False,  # no e-mail or address: _attach_user_and_request_id adds the id alone
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "allowlist", "terms": sorted(SAFE_HEADERS)}},
            "url_query_params": {"mode": "allowlist", "terms": []},  # names kept, values filtered
            "http_bodies": ["incoming_request"],  # read, then reduced to its shape by scrub_event
            "stack_frame_variables": False,
            "database_query_data": False,
        },
        max_request_body_size="medium",
        before_send=scrub_event,
        before_send_transaction=scrub_event,
    )
    sentry_sdk.get_global_scope().add_event_processor(_attach_user_and_request_id)
    # A 5xx request line repeats the error Sentry already has: never a second event.
    ignore_logger("saintara.request")

    @app.before_request
    def _tag_request_id() -> None:
        sentry_sdk.get_isolation_scope().set_tag("request_id", g.get("request_id"))
