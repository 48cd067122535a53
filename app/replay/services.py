"""Who may be recorded by session replay, and how often.

:func:`may_replay` is the rule: a signed-in, active account whose request may record anybody
(no ``DNT: 1`` / ``Sec-GPC: 1``, no impersonation, no API token: the rule of usage analytics,
app.analytics.services.request_refused) and whose subject consented to ``session_replay``
(app.consent; remembered per process like the analytics answer). :func:`sample_rate` adds the
configuration: a browser Sentry DSN and the setting ``replay_sample_percent`` above zero.
Anonymous visitors are never recorded.
"""

from __future__ import annotations

import logging

from flask import current_app

from app.analytics import services as analytics
from app.consent import services as consent
from app.settings import services as settings
from app.users.models import User

log = logging.getLogger(__name__)
PURPOSE = "session_replay"


def may_replay(user: User | None) -> bool:
    """Whether the browser session of ``user`` may be recorded now (see the module docstring)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return not analytics.request_refused() and analytics.consents(consent.subject_of_user(user), PURPOSE)


def sample_rate(user: User | None) -> float | None:
    """The share of sessions (0 < rate <= 1) to record for ``user``'s page; None: load no replay."""
    if not current_app.config.get("SENTRY_BROWSER_DSN"):
        return None
    percent = settings.get("replay_sample_percent")
    if percent <= 0 or not may_replay(user):
        return None
    return percent / 100


def page_sample_rate() -> float | None:
    """Template global ``session_replay()``: :func:`sample_rate` for the signed-in user of this page."""
    try:
        return sample_rate(analytics.signed_in_user())
    except Exception:  # replay must never break a page
        log.exception("replay: could not decide whether to record")
        return None
