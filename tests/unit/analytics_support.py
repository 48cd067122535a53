"""Shared pieces of the analytics tests: a consenting account, the buffer emptied, the rows read."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.analytics import services as analytics
from app.analytics.models import AnalyticsEvent
from app.analytics.visitors import forget_cached_salts
from app.consent import notices
from app.consent import services as consent
from app.consent.models import ConsentSource
from app.security.actor import Actor
from app.users.models import Role

SYSTEM = Actor.system("test")


@pytest.fixture(autouse=True)
def _fresh_buffer(app):
    """Each test starts with an empty buffer and no remembered salts (the rows are rolled back)."""
    analytics.buffer(app).events.clear()
    forget_cached_salts()
    yield
    analytics.buffer(app).events.clear()
    forget_cached_salts()


def choose(user, granted: bool) -> None:
    """``user`` gives (or withdraws) consent to analytics on their account page."""
    if notices.latest_notice("analytics") is None:
        notices.publish(SYSTEM, "analytics", text_en="Count my visits.", text_id="Hitung kunjungan saya.",
                        material=True)
    consent.record(Actor.for_user(user), consent.subject_of_user(user), "analytics", granted=granted,
                   source=ConsentSource.ACCOUNT, notice_version=notices.latest_notice("analytics").version)


@pytest.fixture
def consenting(db, make_user):
    """``consenting(role=Role.ADMIN)``: an account that agreed to usage analytics."""

    def factory(role: Role = Role.ADMIN):
        user = make_user(role)
        choose(user, True)
        db.session.commit()
        return user

    return factory


def flushed(app, db) -> list[AnalyticsEvent]:
    """Write the buffer to the database (no Redis: straight in) and read every event, oldest first."""
    analytics.buffer(app).flush()
    return db.session.scalars(select(AnalyticsEvent).order_by(AnalyticsEvent.id)).all()
