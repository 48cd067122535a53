"""Recording analytics events: the one entry point, and the rule of who may be recorded.

    from app.analytics import services as analytics
    analytics.record("import_done", user=user, properties={"rows": 120})

:func:`record` checks the name and properties against the catalogue (app.analytics.catalogue;
InvalidEvent otherwise), asks :func:`may_record`, and appends one tuple to this process's
buffer (app.analytics.buffer): no database or network round trip on the request path once
the day's salt and the request's consent answer are known.

:func:`may_record` is the rule, in this order: the setting ``analytics_enabled``; a
signed-in, active account; the request carries no ``DNT: 1`` / ``Sec-GPC: 1``, is not made
while someone else acts as the account (impersonation) and is not an API token request
(the browser's signals are noted on ``g`` by app.analytics.hooks before the view runs); and the account's subject
has consented to ``analytics`` (app.consent; the answer is remembered in the process and
asked again after any consent change, within a second in every process: :func:`consents`).
The whole answer is remembered for the request.
Anonymous visitors are never recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import current_app, g, has_request_context
from flask_login import current_user

from app import caching
from app.analytics import catalogue
from app.analytics.buffer import EventBuffer
from app.analytics.catalogue import InvalidEvent
from app.analytics.models import MAX_PATH
from app.analytics.visitors import local_day, visitor_id
from app.consent import services as consent
from app.settings import services as settings
from app.users import impersonation_guard
from app.users.models import User

__all__ = ["InvalidEvent", "buffer", "consents", "may_record", "record", "refuse_request", "request_refused"]

log = logging.getLogger(__name__)
EXTENSION = "analytics"
CONSENT_CACHE_SECONDS = 60
CONSENT_GENERATION = "analytics-consent"
GENERATION_CHECK_SECONDS = 1.0
MAX_REMEMBERED = 10_000
_read_generation: list = []  # [generation, when read] in this process
_answers: dict[tuple[str, int, str], tuple[str, bool, float]] = {}  # (subject, purpose) -> (generation, answer, when)
REMEMBERED_PURPOSES = frozenset({"analytics", "session_replay"})
_REFUSED = "analytics_refused"  # g: why this request may not be recorded (None: it may)
_ALLOWED = "analytics_allowed"  # g: user id -> the answer of may_record


def buffer(app=None) -> EventBuffer:
    """This process's event buffer (created by app.analytics.init_app)."""
    return (app or current_app).extensions[EXTENSION]


def refuse_request(reason: str | None) -> None:
    """Note on the request that nothing may be recorded during it (``reason``: "dnt" or "gpc"),
    or that it may (None). Called by app.analytics.hooks before the view runs; impersonation
    (app.users.impersonation_guard) and API tokens (``g.api_token``) are read where they are kept."""
    setattr(g, _REFUSED, reason)


def signed_in_user() -> User | None:
    """The signed-in account of this request, if any."""
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return current_user._get_current_object()
    return None


def may_record(user: User | None) -> bool:
    """Whether events of ``user`` may be recorded now (see the module docstring)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    cache = g.setdefault(_ALLOWED, {}) if has_request_context() else {}
    if user.id not in cache:
        cache[user.id] = bool(not request_refused() and settings.get("analytics_enabled")
                              and consents(consent.subject_of_user(user)))
    return cache[user.id]


def request_refused() -> bool:
    """Whether this request may record nobody: the browser sent ``DNT: 1`` / ``Sec-GPC: 1``, someone
    acts as the account (impersonation), or it is an API token request. Also the rule of session
    replay (app.replay)."""
    return has_request_context() and bool(g.get(_REFUSED) or impersonation_guard.current() or g.get("api_token"))


def consents(subject: tuple[str, int], purpose: str = "analytics") -> bool:
    """Whether ``subject``'s consent to ``purpose`` (one of REMEMBERED_PURPOSES: analytics, or
    session replay for app.replay) counts: app.consent's answer, remembered in this process so
    that a page view costs no query and, mostly, no round trip.

    A remembered answer holds while the shared generation ``analytics-consent`` (app.caching; one
    key for everyone, in Redis in production) is unchanged, and for CONSENT_CACHE_SECONDS at most.
    Every consent change bumps the generation (:func:`forget_consent`); each process reads it at
    most every GENERATION_CHECK_SECONDS. So a withdrawal counts from the next request on in the
    process that recorded it and within a second in every other one; a newly published material
    notice counts within CONSENT_CACHE_SECONDS. The shared cache holds nothing per person.
    """
    key = (subject[0], int(subject[1]), purpose)
    now = time.monotonic()
    try:
        current = _generation(now)
    except Exception:  # a cache outage: ask the consent store every time
        return consent.allows(subject, purpose)
    remembered = _answers.get(key)
    if remembered is not None and remembered[0] == current and now - remembered[2] < CONSENT_CACHE_SECONDS:
        return remembered[1]
    allowed = consent.allows(subject, purpose)
    if len(_answers) >= MAX_REMEMBERED:
        _answers.clear()
    _answers[key] = (current, allowed, now)
    return allowed


def _generation(now: float) -> str:
    """The consent generation, read from the shared cache at most every GENERATION_CHECK_SECONDS."""
    if _read_generation and now - _read_generation[1] < GENERATION_CHECK_SECONDS:
        return _read_generation[0]
    value = caching.generation(CONSENT_GENERATION)
    _read_generation[:] = [value, now]
    return value


def forget_remembered_consents() -> None:
    """Drop this process's remembered answers and generation (tests, whose rollbacks reuse ids)."""
    _answers.clear()
    _read_generation.clear()


def forget_consent(_app, *, purpose: str, **_payload) -> None:
    """Subscriber of ``events.consent_changed``: every process asks the consent store again."""
    if purpose in REMEMBERED_PURPOSES:
        caching.bump(CONSENT_GENERATION)
        _read_generation.clear()


def _path(path: str | None) -> str | None:
    if path is None:
        return None
    if not isinstance(path, str) or not path.startswith("/") or len(path) > MAX_PATH or "?" in path:
        raise InvalidEvent("path must be a route template such as /customers/<int:customer_id>")
    return path


def record(name: str, *, user: User | None = None, path: str | None = None,
           properties: Mapping | None = None) -> bool:
    """Record event ``name`` of ``user`` (default: the signed-in user) when :func:`may_record`
    allows it; returns whether it was queued.

    ``path`` is a route template (``request.url_rule.rule``), never a URL. ``properties`` are
    checked against the event's declaration. Raises InvalidEvent for an unknown name, an
    undeclared property or a value of the wrong type, whoever the user is.
    """
    clean = catalogue.checked(name, properties)
    path = _path(path)
    user = user if user is not None else signed_in_user()
    if not may_record(user):
        return False
    now = time.time()
    day = local_day(datetime.fromtimestamp(now, UTC))
    buffer().append((now, day.isoformat(), name, path, user.role, visitor_id(user.id, day).hex(), clean))
    return True
