"""Who is recorded, and what an event holds: consent, Do Not Track, Global Privacy Control,
impersonation and API tokens; declared names and properties; route templates, never URLs."""

from __future__ import annotations

import pytest
from flask import g
from flask_login import login_user

from app.analytics import catalogue
from app.analytics import services as analytics
from app.analytics.visitors import local_day, visitor_id
from app.consent import services as consent
from app.database import utcnow
from app.settings import services as settings
from app.users.models import Role
from tests.unit.analytics_support import SYSTEM, choose, flushed


def test_nothing_is_recorded_without_consent(app, db, make_user, client_for):
    user = make_user(Role.ADMIN)
    assert client_for(user).get("/account").status_code == 200
    assert flushed(app, db) == []
    assert 'js/analytics.js' not in client_for(user).get("/account").get_data(as_text=True)


def test_a_consenting_page_view_is_recorded_with_its_route_template(app, db, consenting, make_user, client_for):
    user, other = consenting(), make_user(Role.ADMIN)
    client = client_for(user)
    page = client.get(f"/users/{other.id}?tab=security&q=secret")
    assert page.status_code == 200
    assert 'js/analytics.js' in page.get_data(as_text=True)  # the script loads for people who may be recorded
    [event] = flushed(app, db)
    assert (event.name, event.path, event.role) == ("page_view", "/users/<int:user_id>", "admin")
    assert event.properties is None
    assert event.day == local_day(event.occurred_at)
    assert event.visitor == visitor_id(user.id, event.day) and len(event.visitor) == 16
    assert str(other.id) not in event.path and "secret" not in event.path


def test_only_successful_html_pages_count(app, db, consenting, client_for):
    client = client_for(consenting())
    assert client.get("/users/987654").status_code == 404
    static = client.get("/static/css/app.css")
    assert static.status_code == 200
    static.close()
    assert client.get("/api/v1/me").status_code == 401  # JSON, and no session counts there
    assert flushed(app, db) == []


@pytest.mark.parametrize("header", [{"DNT": "1"}, {"Sec-GPC": "1"}])
def test_do_not_track_and_global_privacy_control_stop_recording(app, db, consenting, client_for, header):
    client = client_for(consenting())
    page = client.get("/account", headers=header)
    assert page.status_code == 200 and 'js/analytics.js' not in page.get_data(as_text=True)
    assert flushed(app, db) == []
    client.get("/account", headers={"DNT": "0"})
    assert len(flushed(app, db)) == 1  # "0" is not a refusal


def test_withdrawn_consent_stops_recording_from_then_on(app, db, consenting, client_for):
    user = consenting()
    client = client_for(user)
    client.get("/account")
    choose(user, False)
    db.session.commit()
    client.get("/account")
    client.get("/account")
    assert [e.name for e in flushed(app, db)] == ["page_view"]


def test_the_setting_switches_analytics_off(app, db, consenting, client_for):
    client = client_for(consenting())
    settings.update(SYSTEM, "analytics_enabled", False)
    db.session.commit()
    client.get("/account")
    assert flushed(app, db) == []


def test_impersonated_and_api_token_requests_are_not_recorded(app, db, consenting):
    user = consenting()
    for marker in ("impersonation", "api_token"):
        with app.test_request_context("/account"):
            login_user(user)
            assert analytics.may_record(user)
            g.pop("analytics_allowed")
            setattr(g, marker, {"target_id": user.id, "impersonator_id": 1} if marker == "impersonation" else object())
            assert not analytics.may_record(user)
            assert not analytics.record("print_clicked")
            g.pop(marker), g.pop("analytics_allowed")  # g belongs to the test's app context, shared here
    assert flushed(app, db) == []


def test_anonymous_visitors_are_never_recorded(app, db):
    assert app.test_client().get("/login").status_code == 200
    with app.test_request_context("/login"):
        assert not analytics.record("page_view", path="/login")
    assert flushed(app, db) == []


def test_unknown_names_and_undeclared_properties_are_refused_for_everyone(app, db, consenting, make_user):
    user, refuser = consenting(), make_user(Role.ADMIN)
    with app.test_request_context("/"):
        for who in (user, refuser):
            with pytest.raises(catalogue.InvalidEvent, match="unknown event"):
                analytics.record("made_up", user=who)
            with pytest.raises(catalogue.InvalidEvent, match="no property 'email'"):
                analytics.record("import_done", user=who, properties={"email": "a@example.com"})
            with pytest.raises(catalogue.InvalidEvent, match="rows must be a whole number"):
                analytics.record("import_done", user=who, properties={"rows": "12"})
            with pytest.raises(catalogue.InvalidEvent, match="outcome must be one of"):
                analytics.record("approval_decided", user=who, properties={"outcome": "maybe"})
            with pytest.raises(catalogue.InvalidEvent, match="route template"):
                analytics.record("page_view", user=who, path="/users/1?q=x")
        assert analytics.record("import_done", user=user, properties={"rows": 12})
        assert not analytics.record("import_done", user=refuser, properties={"rows": 12})
    [event] = flushed(app, db)
    assert (event.name, event.properties) == ("import_done", {"rows": 12})


def test_the_visitor_hash_of_one_account_changes_every_day(app, db, make_user):
    from datetime import timedelta

    user, other = make_user(Role.ADMIN), make_user(Role.ADMIN)
    today = local_day(utcnow())
    yesterday = today - timedelta(days=1)
    assert visitor_id(user.id, today) == visitor_id(user.id, today)  # stable within the day
    assert visitor_id(user.id, today) != visitor_id(user.id, yesterday)
    assert visitor_id(user.id, today) != visitor_id(other.id, today)


def test_a_consent_change_made_in_another_process_counts_within_a_second(app, db, consenting, monkeypatch):
    from app import caching

    user = consenting()
    subject = consent.subject_of_user(user)
    assert analytics.consents(subject)
    choose(user, False)
    db.session.flush()  # not committed: this process hears nothing; the other one bumps the generation
    caching.bump(analytics.CONSENT_GENERATION)
    assert analytics.consents(subject)  # this process read the generation less than a second ago
    monkeypatch.setattr(analytics, "GENERATION_CHECK_SECONDS", 0)
    assert not analytics.consents(subject)
