"""The daily rollup, the retention purge and the daily salts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.analytics import rollup
from app.analytics.ingest import write_events
from app.analytics.models import AnalyticsDaily, AnalyticsEvent, AnalyticsSalt
from app.analytics.visitors import forget_cached_salts, local_day, salt_for, visitor_id
from app.audit.models import AuditLog
from app.database import utcnow
from app.security.actor import Actor
from app.users.models import Role
from tests.unit.analytics_support import flushed


def event(day, name="page_view", path="/account", role="admin", visitor=1, properties=None):
    """A raw event of ``day`` (noon, local) as the buffer holds it."""
    moment = datetime.combine(day, time(12), ZoneInfo("Asia/Jakarta")).astimezone(UTC)
    return (moment.timestamp(), day.isoformat(), name, path, role, f"{visitor:032x}", properties)


def daily(db, day):
    return sorted(db.session.execute(select(AnalyticsDaily.name, AnalyticsDaily.path, AnalyticsDaily.role,
                                            AnalyticsDaily.events, AnalyticsDaily.visitors)
                                     .where(AnalyticsDaily.day == day)).all())


def test_rollup_counts_events_and_distinct_visitors_and_is_idempotent(app, db, consenting, client_for):
    today = local_day(utcnow())
    one, two = client_for(consenting()), client_for(consenting(Role.SUPERADMIN))
    for client in (one, one, two):
        client.get("/account")
    one.get("/users")
    assert len(flushed(app, db)) == 4
    write_events(db.session, [event(today, "import_done", None, None, 7, {"rows": 3})])
    assert rollup.rollup_day(today) == 4
    expected = [("import_done", "", "", 1, 1), ("page_view", "/account", "admin", 2, 1),
                ("page_view", "/account", "superadmin", 1, 1), ("page_view", "/users", "admin", 1, 1)]
    assert daily(db, today) == expected
    one.get("/account")
    flushed(app, db)
    assert rollup.rollup_day(today) == 4
    assert rollup.rollup_day(today) == 4  # again: the same rows, counted once
    assert daily(db, today)[1] == ("page_view", "/account", "admin", 3, 1)


def test_rollup_refuses_days_whose_raw_events_are_gone(app, db):
    today = local_day(utcnow())
    with pytest.raises(rollup.RollupRefused):
        rollup.rollup_day(today - timedelta(days=91))
    with pytest.raises(rollup.RollupRefused):
        rollup.rollup_day(today + timedelta(days=1))
    assert rollup.rollup_day(today - timedelta(days=90)) == 0


def test_purge_applies_the_retention_settings_and_is_audited(app, db, runner):
    today = local_day(utcnow())
    old, kept = today - timedelta(days=91), today - timedelta(days=90)
    write_events(db.session, [event(old), event(old), event(kept)])
    db.session.add_all([AnalyticsDaily(day=d, name="page_view", path="/", role="admin", events=1, visitors=1)
                        for d in (today - timedelta(days=731), today - timedelta(days=730))])
    db.session.commit()
    result = runner.invoke(args=["analytics", "purge"])
    assert result.exit_code == 0, result.output
    assert "deleted 2 raw events" in result.output
    assert db.session.scalars(select(AnalyticsEvent.day)).all() == [kept]
    assert db.session.scalars(select(AnalyticsDaily.day)).all() == [today - timedelta(days=730)]
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "ANALYTICS_PURGE")).one()
    assert entry.changes["analytics"]["events"] == 2 and entry.changes["analytics"]["rollups"] == 1


def test_rollup_command_defaults_to_yesterday_and_today_and_checks_the_day(app, db, runner):
    today = local_day(utcnow())
    write_events(db.session, [event(today), event(today - timedelta(days=1), visitor=2)])
    db.session.commit()
    result = runner.invoke(args=["analytics", "rollup"])
    assert result.exit_code == 0 and result.output.count("1 rows") == 2, result.output
    bad = runner.invoke(args=["analytics", "rollup", "--day", "2026-13-40"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    gone = runner.invoke(args=["analytics", "rollup", "--day", (today - timedelta(days=400)).isoformat()])
    assert gone.exit_code == 1 and "outside the days" in gone.output


def test_each_day_has_its_own_salt_and_past_salts_are_deleted(app, db):
    today = local_day(utcnow())
    yesterday = today - timedelta(days=1)
    assert salt_for(today) != salt_for(yesterday)
    assert len(salt_for(today)) == 32
    forget_cached_salts()  # another worker: it reads the same salt from the database
    assert salt_for(today) == db.session.scalar(select(AnalyticsSalt.salt).where(AnalyticsSalt.day == today))
    old_id = visitor_id(5, yesterday)
    run = rollup.purge(Actor.system("test"))
    assert run.salts == 1
    assert db.session.scalars(select(AnalyticsSalt.day)).all() == [today]
    # yesterday's ids cannot be computed again: a new salt would be made, giving other ids
    assert visitor_id(5, yesterday) != old_id
    assert db.session.scalar(select(func.count()).select_from(AnalyticsSalt)) == 2


def test_a_restore_deletes_the_salts_of_past_days_it_brought_back(app, db):
    from app import events

    today = local_day(utcnow())
    db.session.add_all([AnalyticsSalt(day=today - timedelta(days=3), salt=b"x" * 32),
                        AnalyticsSalt(day=today, salt=b"y" * 32)])
    db.session.commit()
    assert events.send(app, events.backup_restored, backup_id="20260101T000000Z-abcdef", actor_id=None) == 0
    assert db.session.scalars(select(AnalyticsSalt.day)).all() == [today]


def test_erasing_an_account_deletes_the_events_that_can_still_be_linked_to_it(app, db, consenting, client_for,
                                                                             make_user):
    from app.privacy import erasure

    erased, other = consenting(), consenting()
    for user in (erased, other):
        client_for(user).get("/account")
    today = local_day(utcnow())
    last_week = today - timedelta(days=7)  # its salt is gone: nobody can tell whose these are
    write_events(db.session, [event(last_week, visitor=7), event(last_week, visitor=8)])
    assert len(flushed(app, db)) == 4
    erasure.erase_user(Actor.for_user(make_user(Role.SUPERADMIN)), erased)
    db.session.commit()
    left = db.session.execute(select(AnalyticsEvent.day, AnalyticsEvent.visitor)).all()
    assert sorted(left) == sorted([(today, visitor_id(other.id, today)),
                                   (last_week, bytes.fromhex(f"{7:032x}")), (last_week, bytes.fromhex(f"{8:032x}"))])
    assert db.session.scalars(select(AnalyticsSalt.day)).all() == [today]  # no salt was made for the past
