"""Per request: one JSON log line and the request metrics.

A thin WSGI middleware stamps the moment the request came in (before the session is
read); when the request context ends (after the response was made, and after the last
byte of a streamed CSV export), this records:

* ``saintara_http_requests_total{route,method,status}`` and
  ``saintara_http_request_duration_seconds{route,method}``, where ``route`` is the
  templated rule (``/transactions/<int:transaction_id>``), never the raw path, so ids
  and tokens in URLs neither leak nor multiply the series (unknown paths: ``unmatched``);
* a log line on ``saintara.request``: request id, user id, method, route, status and
  duration. Neither the path nor the query string is logged: reset links carry secrets.

Unhandled exceptions are counted in ``saintara_http_exceptions_total{route,exception}``.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, g, got_request_exception, request
from sqlalchemy import inspect as sa_inspect

from app.observability import metrics

log = logging.getLogger("saintara.request")
STARTED = "saintara.started"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


class RequestClock:
    """Notes when each request arrived, before Flask opens the session."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ[STARTED] = time.perf_counter()
        return self.wsgi_app(environ, start_response)


def _route() -> str:
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED


def finish(status: int) -> None:
    """Record the current request as finished with ``status`` (metrics and the log line)."""
    duration = time.perf_counter() - request.environ.get(STARTED, time.perf_counter())
    route = _route()
    method = request.method if request.method in METHODS else "OTHER"
    metrics.HTTP_REQUESTS.labels(route, method, str(status)).inc()
    metrics.HTTP_DURATION.labels(route, method).observe(duration)
    user_id = loaded_user_id()
    level = logging.ERROR if status >= 500 else logging.INFO
    log.log(level, "%s %s %s", method, route, status, extra={
        "request_id": g.get("request_id"), "user_id": user_id, "method": method, "route": route, "status": status,
        "duration_ms": round(duration * 1000, 2), "remote_addr": request.remote_addr})


def loaded_user_id() -> int | None:
    """The id of the user this request signed in as, if it loaded one; never queries (the
    request's commit may have expired the user's attributes: the identity map still knows)."""
    user = g.get("_login_user")
    if user is None or getattr(user, "is_anonymous", True):
        return None
    state = sa_inspect(user, raiseerr=False)
    identity = state.identity if state is not None else None
    return identity[0] if identity else getattr(user, "id", None)


def _note_status(response):
    g.response_status = response.status_code
    return response


def _finish(exc: BaseException | None) -> None:
    finish(500 if exc is not None else g.get("response_status", 500))


def _count_exception(sender, exception, **_extra) -> None:
    metrics.HTTP_EXCEPTIONS.labels(_route(), type(exception).__name__).inc()


def init_app(app: Flask) -> None:
    """Install the clock and the hooks (call right after the request id's)."""
    app.wsgi_app = RequestClock(app.wsgi_app)
    app.after_request(_note_status)  # registered early, so it runs last and sees the final status
    app.teardown_request(_finish)
    got_request_exception.connect(_count_exception, app, weak=False)
