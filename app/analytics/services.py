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
has consented to ``analytics`` (app.consent; the answer is kept in the shared cache for a
minute and forgotten when the consent changes: :func:`consents`). The whole answer is
remembered for the request.
Anonymous visitors are never recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import current_app, g, has_request_context
from flask_login import current_user

from app.analytics import catalogue
from app.analytics.buffer import EventBuffer
from app.analytics.catalogue import InvalidEvent
from app.analytics.models import MAX_PATH
from app.analytics.visitors import local_day, visitor_id
from app.consent import services as consent
from app.extensions import cache
from app.settings import services as settings
from app.users import impersonation_guard
from app.users.models import User

__all__ = ["InvalidEvent", "buffer", "may_record", "record", "refuse_request"]

log = logging.getLogger(__name__)
EXTENSION = "analytics"
CONSENT_CACHE_SECONDS = 60
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
        refused = has_request_context() and bool(g.get(_REFUSED) or impersonation_guard.current()
                                                 or g.get("api_token"))
        cache[user.id] = bool(not refused and settings.get("analytics_enabled")
                              and consents(consent.subject_of_user(user)))
    return cache[user.id]


def _consent_key(subject: tuple[str, int]) -> str:
    return f"analytics:consent:{subject[0]}:{int(subject[1])}"


def consents(subject: tuple[str, int]) -> bool:
    """Whether ``subject``'s consent to analytics counts: app.consent's answer, kept in the shared
    cache for CONSENT_CACHE_SECONDS so a page view costs no query (a Redis read in production).

    A change of the subject's consent forgets it at once (:func:`forget_consent`, subscribed to
    ``events.consent_changed``); a newly published material notice takes effect within the TTL.
    """
    key = _consent_key(subject)
    try:
        cached = cache.get(key)
    except Exception:  # a cache outage: ask the consent store
        cached = None
    if cached is not None:
        return cached == 1
    allowed = consent.allows(subject, "analytics")
    try:
        cache.set(key, 1 if allowed else 0, timeout=CONSENT_CACHE_SECONDS)
    except Exception:
        log.warning("analytics: consent answer not cached", exc_info=True)
    return allowed


def forget_consent(_app, *, subject_kind: str, subject_id: int, purpose: str, **_payload) -> None:
    """Subscriber of ``events.consent_changed``: the next request asks the consent store again."""
    if purpose == "analytics":
        cache.delete(_consent_key((subject_kind, subject_id)))


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
    catalogue.event_type(name)
    clean = catalogue.checked(name, properties)
    path = _path(path)
    user = user if user is not None else signed_in_user()
    if not may_record(user):
        return False
    now = time.time()
    day = local_day(datetime.fromtimestamp(now, UTC))
    buffer().append((now, day.isoformat(), name, path, user.role, visitor_id(user.id, day).hex(), clean))
    return True
