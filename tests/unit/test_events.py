"""Domain events: announced once after the commit, never on rollback; a failing subscriber is logged."""

from __future__ import annotations

import logging

import pytest

from app import events
from app.platform.services import decisions, institutions
from app.security.actor import Actor

received: list[tuple[str, dict]] = []


def _record_institution(_app, **payload) -> None:
    received.append(("institution_changed", payload))


def _record_transaction(_app, **payload) -> None:
    received.append(("transaction_decided", payload))


def _fail(_app, **_payload) -> None:
    raise RuntimeError("subscriber broke")


@pytest.fixture
def listen(app):
    """Subscribe the recorders for one test; disconnect them afterwards."""
    received.clear()
    connected = []

    def subscribe(signal, receiver):
        events.subscribe(app, signal, receiver)
        connected.append((signal, receiver))

    yield subscribe
    for signal, receiver in connected:
        signal.disconnect(receiver, sender=app)
    received.clear()


def test_an_event_is_sent_once_after_the_commit_with_its_payload(db, listen):
    listen(events.institution_changed, _record_institution)
    institution = institutions.create(Actor.system("test"), code="EVT01", name="Events one")
    assert received == []  # not before the commit
    db.session.commit()
    assert received == [("institution_changed", {"institution_id": institution.id})]
    db.session.commit()  # a later commit does not send it again
    assert len(received) == 1


def test_a_rolled_back_change_announces_nothing(db, listen):
    listen(events.institution_changed, _record_institution)
    institutions.create(Actor.system("test"), code="EVT02", name="Events two")
    db.session.rollback()
    db.session.commit()
    assert received == []


def test_a_decision_announces_what_was_decided(db, listen, make_transaction, make_user):
    from app.users.models import Role

    listen(events.transaction_decided, _record_transaction)
    tx = make_transaction()
    db.session.commit()
    decider = make_user(Role.SUPERADMIN)
    decisions.decide_transaction(Actor.for_user(decider), tx.id, approve=True)
    db.session.commit()
    assert received == [("transaction_decided", {"transaction_id": tx.id, "institution_id": tx.institution_id,
                                                 "status": "approved", "actor_id": decider.id})]


def test_a_failing_subscriber_is_logged_and_the_others_still_run(db, listen, caplog):
    listen(events.institution_changed, _fail)
    listen(events.institution_changed, _record_institution)
    institution = institutions.create(Actor.system("test"), code="EVT03", name="Events three")
    with caplog.at_level(logging.ERROR, logger="app.events"):
        db.session.commit()  # does not raise: the commit stands
    assert received == [("institution_changed", {"institution_id": institution.id})]
    assert "subscriber" in caplog.text and "institution-changed" in caplog.text


def test_a_failing_subscriber_does_not_break_the_request(app, db, listen, staff, make_user):
    from app.platform.models import Institution
    from app.users.models import Role

    listen(events.institution_changed, _fail)
    forms = staff(make_user(Role.SUPERADMIN))
    response = forms.post("/institutions/new", {"code": "EVT04", "name": "Events four"},
                          page="/institutions/new")
    assert response.status_code == 302
    assert db.session.query(Institution).filter_by(code="EVT04").one()


def test_the_caches_subscribe_in_their_own_init(app):
    from app.api import cache as api_cache
    from app.dashboard import cache as dashboard_cache

    subscribers = list(events.institution_changed.receivers_for(app))
    assert dashboard_cache._figures_changed in subscribers
    assert api_cache._institutions_changed in subscribers
