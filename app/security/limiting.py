"""Enforcing the request limits of app.security.ratelimits, and surviving a Redis outage.

Each matching request adds one to a counter for its window (windows are aligned to
the clock, so the reset time is known without asking the store): one round trip to
Redis per limit, which returns the count, from which the standard headers follow:
``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` (epoch
seconds) and, on a 429, ``Retry-After`` (seconds). The 429 is a friendly page for
people and a JSON error (code ``rate_limited``) for the API.

The counters live in Flask-Limiter's storage (``RATELIMIT_STORAGE_URI``: Redis in
production, memory on the embedded default). When Redis does not answer,
:class:`CounterStore` stops asking it for ``RATELIMIT_RETRY_SECONDS``: security limits
(sign-in, two-factor, password reset) count in this process meanwhile, the others let
requests through, and ``saintara_ratelimit_fallbacks_total`` counts each such decision.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_login import current_user
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage
from redis.exceptions import RedisError
from werkzeug.exceptions import TooManyRequests

from app.extensions import limiter
from app.observability import metrics
from app.security.ratelimits import EXEMPT_ENDPOINTS, PAGES_PER_USER, Per, RequestLimit, by_endpoint

log = logging.getLogger(__name__)
STORAGE_ERRORS = (RedisError, StorageError, OSError)
EXTENSION_KEY = "saintara.counters"
T = TypeVar("T")

# The clock the windows are cut from (tests replace it to stand at a known instant).
clock: Callable[[], float] = time.time


class CounterStore:
    """The limiter's storage, with a per-process stand-in while it does not answer."""

    def __init__(self, shared: Storage, retry_seconds: float, local: Storage | None = None):
        self.shared = shared
        # The embedded default already counts in memory: it is its own stand-in.
        self.local = local or (shared if isinstance(shared, MemoryStorage) else MemoryStorage())
        self.retry_seconds = retry_seconds
        self._down_until = 0.0

    @property
    def shared_down(self) -> bool:
        return self.local is not self.shared and time.monotonic() < self._down_until

    def call(self, operation: Callable[[Storage], T], *, limit: str, security: bool, let_through: T) -> T:
        """``operation(storage)`` on the shared store; while it is down, on this process's
        store (security limits) or not at all (the others get ``let_through``)."""
        if self.local is self.shared:
            return operation(self.shared)
        if not self.shared_down:
            try:
                return operation(self.shared)
            except STORAGE_ERRORS:
                self._down_until = time.monotonic() + self.retry_seconds
                log.warning("rate-limit storage unreachable; security limits count per process for %s s",
                            self.retry_seconds, exc_info=True)
        metrics.RATELIMIT_FALLBACKS.labels(limit, "per_process" if security else "let_through").inc()
        return operation(self.local) if security else let_through


def counters() -> CounterStore:
    return current_app.extensions[EXTENSION_KEY]


@dataclass(frozen=True)
class LimitState:
    """One limit as it stands after this request: for the headers and the 429 answer."""

    rule: RequestLimit
    amount: int
    remaining: int
    reset_at: int  # epoch seconds

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - clock()))


class RateLimited(TooManyRequests):
    """A declared request limit was reached; the handler answers with a page or JSON."""

    def __init__(self, state: LimitState):
        super().__init__()
        self.state = state


def _identity(per: Per) -> str | None:
    if per is Per.IP:
        return request.remote_addr or "unknown"
    if per is Per.USER:
        return f"user:{current_user.get_id()}" if current_user.is_authenticated else None
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        # Hashed: the store never holds a usable token.
        return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:24]
    return "address:" + (request.remote_addr or "unknown")


def count(rule: RequestLimit, who: str | None = None) -> LimitState | None:
    """Add this request to ``rule``'s counter; None when it is not counted (no identity,
    or Redis is down and the limit lets requests through). Raises nothing."""
    who = who if who is not None else _identity(rule.per)
    if who is None:
        return None
    item = rule.item()
    period = item.get_expiry()
    window = int(clock() // period)
    key = f"{current_app.config['RATELIMIT_KEY_PREFIX']}/{rule.name}/{who}/{window}"
    used = counters().call(lambda storage: storage.incr(key, period), limit=rule.name, security=rule.security,
                           let_through=None)
    if used is None:
        return None
    return LimitState(rule, item.amount, max(0, item.amount - used), (window + 1) * period) if used <= item.amount \
        else LimitState(rule, item.amount, -1, (window + 1) * period)


def enforce(rule: RequestLimit, who: str | None = None) -> None:
    """Count this request against ``rule`` and raise :class:`RateLimited` past the limit."""
    state = count(rule, who)
    if state is None:
        return
    current = g.get("ratelimit")
    if state.remaining < 0:
        g.ratelimit = state
        metrics.RATELIMIT_REJECTIONS.labels(rule.name).inc()
        raise RateLimited(state)
    if current is None or state.remaining < current.remaining:
        g.ratelimit = state


def _applicable(table: dict[str, list[RequestLimit]]) -> list[RequestLimit]:
    endpoint = request.endpoint
    if endpoint is None or endpoint in EXEMPT_ENDPOINTS:
        return []
    rules = table.get(endpoint) or table.get(endpoint.split(".", 1)[0] + ".*")
    if rules:
        return [rule for rule in rules if rule.matches(request.method)]
    return [PAGES_PER_USER]


def refused_by_throttle(retry_after: int) -> None:
    """A view refuses this request for a failure throttle (an account locked out after failed
    sign-ins, too many wrong codes): its 429 says to retry after ``retry_after`` seconds, when
    the throttle lets the next attempt through, not when a request limit's window ends."""
    g.throttle_retry_after = max(1, int(retry_after))


def _headers(response):
    state: LimitState | None = g.get("ratelimit")
    if state is not None:
        response.headers["X-RateLimit-Limit"] = str(state.amount)
        response.headers["X-RateLimit-Remaining"] = str(max(0, state.remaining))
        response.headers["X-RateLimit-Reset"] = str(state.reset_at)
        response.headers["X-RateLimit-Resource"] = state.rule.name
    if response.status_code == 429:
        retry_after = g.get("throttle_retry_after") or (state.retry_after if state is not None else None)
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
    return response


def _rate_limited(exc: RateLimited):
    from app.errors import wants_json
    from app.security.ratelimit_docs import display

    state = exc.state
    wait = format_timedelta(state.retry_after, granularity="second", threshold=1.1)
    if wants_json():
        body = {"error": {"code": "rate_limited", "limit": state.rule.name, "retry_after": state.retry_after,
                          "message": _("Too many requests: %(limit)s for %(what)s. Try again in %(wait)s.",
                                       limit=display(state.rule.item()), what=state.rule.applies_to, wait=wait),
                          "request_id": g.get("request_id")}}
        return jsonify(body), 429
    return render_template("errors/rate_limited.html", state=state, wait=wait, limit=display(state.rule.item()),
                           request_id=g.get("request_id")), 429


def init_app(app: Flask) -> None:
    """Count every request against its declared limits, first thing after the request id."""
    retry = app.config.get("RATELIMIT_RETRY_SECONDS", 5)
    app.extensions[EXTENSION_KEY] = CounterStore(limiter.storage, retry)
    table = by_endpoint()

    @app.before_request
    def _count_request() -> None:
        for rule in _applicable(table):
            enforce(rule)

    app.after_request(_headers)
    app.register_error_handler(RateLimited, _rate_limited)
