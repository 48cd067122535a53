"""Shared pieces of the analytics tests: consent given or withdrawn, the buffer written and read.

The fixtures (``consenting``, the buffer emptied before each test) are in tests/conftest.py."""

from __future__ import annotations

from sqlalchemy import select

from app.analytics import services as analytics
from app.analytics.models import AnalyticsEvent
from app.consent import notices
from app.consent import services as consent
from app.consent.models import ConsentSource
from app.security.actor import Actor

SYSTEM = Actor.system("test")


def choose(user, granted: bool) -> None:
    """``user`` gives (or withdraws) consent to analytics on their account page."""
    if notices.latest_notice("analytics") is None:
        notices.publish(SYSTEM, "analytics", text_en="Count my visits.", text_id="Hitung kunjungan saya.",
                        material=True)
    consent.record(Actor.for_user(user), consent.subject_of_user(user), "analytics", granted=granted,
                   source=ConsentSource.ACCOUNT, notice_version=notices.latest_notice("analytics").version)


def flushed(app, db) -> list[AnalyticsEvent]:
    """Write the buffer to the database (no Redis: straight in) and read every event, oldest first."""
    analytics.buffer(app).flush()
    return db.session.scalars(select(AnalyticsEvent).order_by(AnalyticsEvent.id)).all()
