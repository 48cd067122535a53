"""``active_week``: the milestone behind the retention cohorts, recorded at most once per account
and ISO week, without any identifier in the event.

Visitor ids change every day, so retention cannot follow a person through events. Instead,
when an account signs in (``events.signed_in``) and may be recorded, the first sign-in of each
ISO week records ``active_week`` with two coarse numbers: ``joined_week`` (the ISO year and week
the account joined, as yyyyww) and ``weeks_since_joined``. The week last recorded is kept per
account in ``analytics_active_weeks`` (server side, never in an event; deleted with the
account), so a second sign-in in the same week records nothing. docs/ANALYTICS.md, "Retention
cohorts", says what this can and cannot tell.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import Flask
from sqlalchemy import update

from app.analytics import services
from app.analytics.milestones import joined_at, own_session
from app.analytics.models import AnalyticsActiveWeek
from app.analytics.visitors import local_day
from app.database import utcnow
from app.extensions import db
from app.users.models import User

EVENT = "active_week"


def week_of(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def week_label(day: date) -> int:
    """``day``'s ISO year and week as one number: 2026-12-06 -> 202649."""
    year, week, _weekday = day.isocalendar()
    return year * 100 + week


def claim_week(user_id: int, week: date) -> bool:
    """Note ``week`` as the account's last recorded week; False when it already was (or later)."""
    claimed = db.session.execute(update(AnalyticsActiveWeek).where(
        AnalyticsActiveWeek.user_id == user_id, AnalyticsActiveWeek.week < week).values(week=week)).rowcount
    if claimed:
        return True
    if db.session.get(AnalyticsActiveWeek, user_id) is not None:
        return False
    db.session.add(AnalyticsActiveWeek(user_id=user_id, week=week))
    db.session.flush()
    return True


def on_signed_in(_app: Flask, *, user_id: int, **_payload) -> None:
    """Record ``active_week`` for the first sign-in of the ISO week of an account that may be recorded."""
    with own_session() as session:
        user = session.get(User, user_id)
        if user is None or not services.may_record(user):
            return
        today = local_day(utcnow())
        joined = local_day(joined_at(user))
        try:
            fresh = claim_week(user.id, week_of(today))
            session.commit()
        except Exception:  # another worker claimed it at the same moment (unique key): it records the week
            session.rollback()
            return
        if fresh:
            services.record(EVENT, user=user, properties={
                "joined_week": week_label(joined),
                "weeks_since_joined": max((week_of(today) - week_of(joined)).days // 7, 0)})
