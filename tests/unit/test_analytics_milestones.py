"""Named actions and milestones, recorded from the domain's events once the change has committed."""

from __future__ import annotations

import time

import pyotp

from app.analytics.milestones import seconds_between
from app.auth.totp import PendingSecret, confirm_totp_enrolment
from app.platform.services import decisions
from app.security.actor import Actor
from app.users import invitations
from app.users.models import Role, TokenPurpose
from tests.unit.analytics_support import choose, flushed


def invite(actor_user, email):
    links = []
    user = invitations.invite_user(Actor.for_user(actor_user), email=email, display_name="New Admin",
                                   role=Role.ADMIN, institution_id=None, link_for=lambda token: links.append(token) or
                                   f"/invitation/{token}")
    return user, links[0]


def named(app, db):
    return [(e.name, e.properties) for e in flushed(app, db)]


def test_an_accounts_journey_is_recorded_with_the_seconds_between_its_milestones(app, db, consenting):
    boss = consenting(Role.SUPERADMIN)
    invited, token = invite(boss, "journey@example.com")
    db.session.commit()
    [sent, first] = named(app, db)
    assert sent == ("invitation_sent", {"role": "admin"})
    assert first[0] == "first_action" and first[1]["action"] == "invitation_sent" and first[1]["seconds"] >= 0
    invite(boss, "second@example.com")
    db.session.commit()
    assert [name for name, _p in named(app, db)][2:] == ["invitation_sent"]  # the first action happens once

    choose(invited, True)  # consent known before the account is used (e.g. given on paper)
    db.session.commit()
    invitations.use_link(Actor.system("test"), token, TokenPurpose.INVITATION, "a long enough new password 123")
    db.session.commit()
    assert named(app, db)[-1][0] == "invitation_accepted"
    assert 0 <= named(app, db)[-1][1]["seconds"] <= 60

    secret = pyotp.random_base32()
    confirm_totp_enrolment(Actor.for_user(invited), invited, PendingSecret(invited.id, secret, time.time()),
                           pyotp.TOTP(secret).now())
    db.session.commit()
    name, properties = named(app, db)[-1]
    assert (name, properties["method"]) == ("two_factor_enrolled", "totp") and properties["seconds"] >= 0


def test_decisions_are_recorded_for_the_decider_only_with_consent(app, db, consenting, make_user, make_transaction,
                                                                  make_approval):
    decider, refuser = consenting(Role.SUPERADMIN), make_user(Role.SUPERADMIN)
    decisions.decide_transaction(Actor.for_user(decider), make_transaction().id, approve=True)
    decisions.decide_approval(Actor.for_user(refuser), make_approval().id, approve=False, reason="Not now")
    db.session.commit()
    assert named(app, db) == [("transaction_decided", {"outcome": "approved"}),
                              ("first_action", {"action": "transaction_decided",
                                                "seconds": named(app, db)[1][1]["seconds"]})]


def test_nothing_is_recorded_when_the_change_rolls_back(app, db, consenting):
    boss = consenting(Role.SUPERADMIN)
    invite(boss, "never@example.com")
    db.session.rollback()
    assert named(app, db) == []


def test_seconds_between():
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert seconds_between(start, start + timedelta(minutes=2, microseconds=999)) == 120
    assert seconds_between(start, start - timedelta(seconds=5)) == 0
    assert seconds_between(None, start) is None
