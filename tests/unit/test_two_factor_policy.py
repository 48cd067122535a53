"""The two-factor policy: required roles, the grace period, and no portal after it."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from sqlalchemy import update

from app.auth import policy
from app.database import utcnow
from app.security.actor import Actor
from app.settings import services as settings
from app.users.models import Role, User
from tests.conftest import DEFAULT_PASSWORD


def sign_in(forms, user, next_url=""):
    return forms.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD, "next": next_url})


def test_in_the_grace_period_sign_in_leads_to_enrolment_once_a_day(db, client, forms, make_user):
    user = make_user(Role.ADMIN)
    first = sign_in(forms, user, "/account")
    assert first.headers["Location"] == "/account/two-factor/required?next=/account"
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "Your role requires a second factor" in page and 'href="/account">Not now<' in page
    assert "requires two-factor sign-in. Set it up before" in client.get("/dashboard").get_data(as_text=True)
    forms.post("/logout", page="/dashboard")
    assert sign_in(forms, user).headers["Location"] == "/dashboard"  # reminded already today
    db.session.execute(update(User).where(User.id == user.id)
                       .values(two_factor_reminded_at=utcnow() - timedelta(days=1, minutes=1)))
    db.session.commit()
    forms.post("/logout", page="/dashboard")
    assert sign_in(forms, user).headers["Location"].startswith("/account/two-factor/required")


def test_after_the_grace_period_only_enrolment_is_reachable(db, client, forms, make_user):
    user = make_user(Role.ADMIN)
    db.session.execute(update(User).where(User.id == user.id)
                       .values(two_factor_policy_since=utcnow() - timedelta(days=8)))
    db.session.commit()
    response = sign_in(forms, user)
    assert response.headers["Location"].startswith("/account/two-factor/required")
    for blocked in ("/dashboard", "/account", "/users", "/account/sessions"):
        answer = client.get(blocked)
        assert answer.status_code == 302 and answer.headers["Location"] == "/account/two-factor/required", blocked
    page = client.get("/account/two-factor/required").get_data(as_text=True)
    assert "the grace period ended" in page and "Not now" not in page
    # Enrolment works: step-up with the password, scan, confirm.
    assert client.get("/account/two-factor/app").headers["Location"].startswith("/step-up")
    forms.post("/step-up", {"password": DEFAULT_PASSWORD, "next": "/account/two-factor/app"}, page="/step-up")
    from tests.unit.test_two_factor import secret_on_page

    secret = secret_on_page(client.get("/account/two-factor/app").get_data(as_text=True))
    forms.post("/account/two-factor/app", {"code": pyotp.TOTP(secret).now()}, page="/account/two-factor/app")
    assert client.get("/dashboard").status_code == 200


def test_roles_outside_the_policy_are_not_asked(db, forms, make_user):
    user = make_user(Role.INSTITUTION_ADMIN)
    assert sign_in(forms, user).headers["Location"] == "/dashboard"
    assert policy.evaluate(user).state is policy.PolicyState.NOT_REQUIRED


def test_widening_the_policy_starts_the_clock_at_the_next_sign_in(db, client, forms, make_user):
    user = make_user(Role.CUSTOMER)
    assert user.two_factor_policy_since is None
    settings.update(Actor.system("test"), "two_factor_required_roles", ["superadmin", "admin", "customer"])
    db.session.commit()
    settings.clear_settings_cache()
    response = sign_in(forms, user)
    assert response.headers["Location"].startswith("/account/two-factor/required")
    db.session.refresh(user)
    assert user.two_factor_policy_since is not None
    status = policy.evaluate(user)
    assert status.in_grace and status.deadline - user.two_factor_policy_since == timedelta(days=7)


def test_enrolled_users_are_not_led_anywhere(db, forms, make_user, login_as):
    user = make_user(Role.SUPERADMIN, with_2fa=True)
    assert login_as(user).headers["Location"] == "/dashboard"
    assert policy.evaluate(user).state is policy.PolicyState.ENROLLED


def test_required_page_sends_users_who_need_nothing_on(db, client, make_user, login_as):
    login_as(make_user(Role.INSTITUTION_ADMIN))
    assert client.get("/account/two-factor/required?next=/account").headers["Location"] == "/account"
