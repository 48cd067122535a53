"""Sign-in, sign-out, session rotation, throttling and the customer's account page."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditLog
from app.users.models import Role
from tests.conftest import DEFAULT_PASSWORD

GENERIC = "The e-mail address or password is not correct."


def audit_actions(db):
    return [e.action for e in db.session.scalars(select(AuditLog).order_by(AuditLog.id))]


def test_sign_in_lands_staff_on_dashboard_and_records_it(db, client, make_user, forms):
    user = make_user(Role.INSTITUTION_ADMIN)  # a role the default two-factor policy leaves alone
    response = forms.post("/login", {"email": user.email.upper(), "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "LOGIN_SUCCESS")).one()
    assert entry.actor_id == user.id and entry.resource_id == str(user.id)
    assert entry.ip == "127.0.0.1" and entry.request_id
    db.session.refresh(user)
    assert user.last_sign_in_at is not None
    assert user.version == 1  # signing in is not an edit of the account


def test_wrong_password_and_unknown_email_get_the_same_generic_message(db, client, make_user, forms):
    user = make_user(Role.ADMIN)
    wrong = forms.post("/login", {"email": user.email, "password": "not the password at all"})
    unknown = forms.post("/login", {"email": "nobody@example.com", "password": "not the password at all"})
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert GENERIC in response.get_data(as_text=True)
    failures = db.session.scalars(select(AuditLog).where(AuditLog.action == "LOGIN_FAILURE")).all()
    assert [f.result for f in failures] == ["failure", "failure"]
    assert failures[0].resource_id == str(user.id) and "wrong password" in failures[0].description
    assert failures[1].actor_email == "nobody@example.com" and "unknown e-mail" in failures[1].description


def test_a_password_typed_into_the_email_field_is_not_recorded(db, forms):
    forms.post("/login", {"email": "Secret-Pa55word!", "password": "whatever whatever"})
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "LOGIN_FAILURE")).one()
    assert "Secret-Pa55word" not in f"{entry.actor_email}{entry.resource_repr}{entry.description}"


def test_deactivated_account_gets_the_generic_message(db, make_user, forms):
    user = make_user(Role.ADMIN, active=False)
    response = forms.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert GENERIC in response.get_data(as_text=True)


def test_session_id_changes_at_sign_in(app, client, make_user, forms):
    user = make_user(Role.ADMIN)
    client.get("/login")
    before = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    forms.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD})
    after = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert before != after
    # The old id no longer opens anything.
    stale = app.test_client()
    stale.set_cookie(app.config["SESSION_COOKIE_NAME"], before)
    assert stale.get("/dashboard").status_code == 302


def test_sign_out_is_a_post_and_ends_the_session_on_the_server(app, client, make_user, login_as, forms, db):
    user = make_user(Role.ADMIN)
    login_as(user)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert client.get("/logout").status_code == 405
    response = forms.post("/logout", page="/dashboard")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert replay.get("/dashboard").status_code == 302
    assert "LOGOUT" in audit_actions(db)


def test_next_accepts_only_local_paths(make_user, forms):
    user = make_user(Role.INSTITUTION_ADMIN)
    for target, expected in [
        ("/account", "/account"),
        ("https://evil.example/", "/dashboard"),
        ("//evil.example/", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
        ("/\t/evil.example", "/dashboard"),
    ]:
        response = forms.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD, "next": target})
        assert response.headers["Location"] == expected, target
        forms.post("/logout", page="/account")


def test_anonymous_visitor_is_sent_to_sign_in_with_next(client):
    response = client.get("/dashboard?x=1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_signed_in_user_visiting_login_goes_home(client, make_user, login_as):
    login_as(make_user(Role.ADMIN))
    assert client.get("/login").headers["Location"] == "/dashboard"
    assert client.get("/").headers["Location"] == "/dashboard"


def test_customer_reaches_only_their_account(client, make_user, login_as):
    customer = make_user(Role.CUSTOMER)
    response = login_as(customer)
    assert response.headers["Location"] == "/account"
    page = client.get("/account")
    assert page.status_code == 200 and customer.email in page.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 403


def test_account_throttle_after_ten_failures_says_when_to_retry(db, make_user, forms):
    user = make_user(Role.ADMIN)
    for _ in range(10):
        assert forms.post("/login", {"email": user.email, "password": "wrong password here"}).status_code == 200
    throttled = forms.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert throttled.status_code == 429
    assert "Try again in 15 minutes" in throttled.get_data(as_text=True)
    assert "LOGIN_THROTTLED" in audit_actions(db)  # kept although the request rolled back


def test_a_locked_out_account_gets_the_lockouts_retry_after_not_the_request_windows(db, make_user, forms):
    from app.security.ratelimits import SIGN_IN_ACCOUNT_SHORT, SIGN_IN_POSTS

    lockout = SIGN_IN_ACCOUNT_SHORT.item.get_expiry()  # the declared lockout (15 minutes)
    window = SIGN_IN_POSTS.item().get_expiry()  # the per-address request limit's window (1 minute)
    user = make_user(Role.ADMIN)
    failures = SIGN_IN_ACCOUNT_SHORT.item.amount
    for _ in range(failures):
        forms.post("/login", {"email": user.email, "password": "wrong password here"})
    throttled = forms.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert throttled.status_code == 429
    retry_after = int(throttled.headers["Retry-After"])
    assert window < lockout - 60 < retry_after <= lockout  # the lockout's end (this test takes seconds)
    assert throttled.headers["X-RateLimit-Resource"] == "sign-in-per-ip"  # the request limit still reports
    page = throttled.get_data(as_text=True)
    minutes = -(-retry_after // 60)
    assert f"Try again in {minutes} minutes (at " in page


def test_unknown_accounts_are_throttled_exactly_like_known_ones(forms):
    for _ in range(10):
        forms.post("/login", {"email": "ghost@example.com", "password": "wrong password here"})
    assert forms.post("/login", {"email": "ghost@example.com", "password": "x" * 12}).status_code == 429


def test_success_clears_the_account_failures(make_user, forms):
    user = make_user(Role.ADMIN)
    for _ in range(9):
        forms.post("/login", {"email": user.email, "password": "wrong password here"})
    assert forms.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD}).status_code == 302
    forms.post("/logout", page="/account")
    for _ in range(9):
        assert forms.post("/login", {"email": user.email, "password": "wrong password here"}).status_code == 200


def test_ip_throttle_counts_failures_across_accounts(app, forms):
    for n in range(50):
        forms.post("/login", {"email": f"user{n}@example.com", "password": "wrong password here"})
    assert forms.post("/login", {"email": "fresh@example.com", "password": "wrong password here"}).status_code == 429


def test_sign_in_posts_are_limited_per_ip(client, forms, monkeypatch):
    # The limit is a sliding window: on a slow machine 31 posts could straddle a window boundary
    # and count partly in the one before. Hold the clock at the start of a window.
    import time

    frozen = (int(time.time()) // 60 + 1) * 60 + 1.0
    monkeypatch.setattr(time, "time", lambda: frozen)
    token = forms.token()
    statuses = [
        client.post("/login", data={"csrf_token": token, "email": "", "password": ""}).status_code
        for _ in range(31)
    ]
    assert statuses[:30] == [400] * 30
    assert statuses[30] == 429


def test_change_password_ends_other_sessions(app, db, client, make_user, login_as, forms):
    user = make_user(Role.CUSTOMER)
    login_as(user)
    other = app.test_client()
    other_forms = type(forms)(other)
    other_forms.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert other.get("/account").status_code == 200
    new_password = "a much longer passphrase 2026"
    response = forms.post("/account/password", {
        "current_password": DEFAULT_PASSWORD, "new_password": new_password, "confirm_password": new_password})
    assert response.status_code == 302
    assert client.get("/account").status_code == 200          # this session lives on
    assert other.get("/account").status_code == 302           # the other one ended
    forms.post("/logout", page="/account")
    assert forms.post("/login", {"email": user.email, "password": new_password}).status_code == 302
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "PASSWORD_CHANGE")).one()
    assert entry.changes == {"password": {"before": "********", "after": "********"}}


def test_change_password_refusals_change_nothing(db, client, make_user, login_as, forms):
    user = make_user(Role.ADMIN)
    login_as(user)
    original_hash = user.password_hash
    cases = [
        ({"current_password": "wrong wrong wrong", "new_password": "another fine passphrase",
          "confirm_password": "another fine passphrase"}, "This is not your current password."),
        ({"current_password": DEFAULT_PASSWORD, "new_password": "qwerty123456",
          "confirm_password": "qwerty123456"}, "among the most commonly used"),
        ({"current_password": DEFAULT_PASSWORD, "new_password": "short",
          "confirm_password": "short"}, "Use between 12 and 256 characters."),
        ({"current_password": DEFAULT_PASSWORD, "new_password": "another fine passphrase",
          "confirm_password": "a different passphrase"}, "The two new passwords do not match."),
        ({"current_password": "", "new_password": "", "confirm_password": ""}, "Enter your current password."),
    ]
    for data, message in cases:
        response = forms.post("/account/password", data)
        assert response.status_code == 400, (message, response.headers.get("Location"))
        assert message in response.get_data(as_text=True), message
    db.session.refresh(user)
    assert user.password_hash == original_hash
    refused = db.session.scalars(select(AuditLog).where(AuditLog.action == "PASSWORD_CHANGE")).all()
    assert [e.result for e in refused] == ["failure"]


def test_unknown_email_costs_one_password_hash_like_a_wrong_password(db, make_user, forms, monkeypatch):
    from argon2 import PasswordHasher

    calls = []
    original = PasswordHasher.verify

    def counting(self, hash_, password):
        calls.append(hash_.split("$")[1])
        return original(self, hash_, password)

    user = make_user(Role.ADMIN)
    monkeypatch.setattr(PasswordHasher, "verify", counting)
    forms.post("/login", {"email": user.email, "password": "wrong password here"})
    forms.post("/login", {"email": "nobody@example.com", "password": "wrong password here"})
    assert calls == ["argon2id", "argon2id"]


def test_log_from_request_takes_the_actor_from_the_request(app, db, make_user):
    from app.audit import services as audit

    user = make_user(Role.ADMIN)
    with app.test_request_context("/somewhere", headers={"X-Request-ID": "req-from-test-1", "User-Agent": "UA/1"}):
        from flask import g

        g.request_id = "req-from-test-1"
        entry = audit.log_from_request("USER_UPDATE", user=user, resource=user, description="by request")
    assert (entry.actor_id, entry.actor_email, entry.request_id, entry.user_agent, entry.ip) == (
        user.id, user.email, "req-from-test-1", "UA/1", None)
    with app.test_request_context("/"):
        anonymous = audit.log_from_request("LOGIN_FAILURE", result="failure")
    assert anonymous.actor_id is None and anonymous.actor_email == "anonymous"
