"""Authenticator-app sign-in: enrolment, the second step, drift, replay, throttle, lock, backup codes."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, text

from app.audit.models import AuditLog
from app.auth import two_factor
from app.auth.models import BackupCode, TotpCredential
from app.security.actor import Actor
from app.users.models import Role
from tests.conftest import DEFAULT_PASSWORD, totp_code


def actions(db, result=None):
    query = select(AuditLog.action).order_by(AuditLog.id)
    if result:
        query = query.where(AuditLog.result == result)
    return list(db.session.scalars(query))


def sign_in_password(forms, user, password=DEFAULT_PASSWORD):
    return forms.post("/login", {"email": user.email, "password": password})


def secret_on_page(html: str) -> str:
    match = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', html)
    assert match, "no secret on the page"
    return match.group(1).replace(" ", "")


def stepped_up(client, forms, password=DEFAULT_PASSWORD):
    forms.post("/step-up", {"password": password, "next": "/account/security"}, page="/step-up")


def test_enrolment_shows_an_inline_qr_code_and_activates_only_after_a_correct_code(app, db, client, forms, make_user,
                                                                                  login_as, outbox):
    user = make_user(Role.ADMIN)
    login_as(user)
    assert client.get("/account/two-factor/app").headers["Location"].startswith("/step-up")
    stepped_up(client, forms)
    page = client.get("/account/two-factor/app")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert 'class="qr-code"' in svg and "style=" not in svg and "<script" not in svg
    secret = secret_on_page(html)
    assert len(secret) == 32  # 160 bits from a cryptographic source
    assert client.get("/account/two-factor/app").status_code == 200
    assert secret_on_page(client.get("/account/two-factor/app").get_data(as_text=True)) == secret  # stable while fresh

    assert db.session.execute(text("SELECT count(*) FROM totp_credentials")).scalar_one() == 0  # GETs store nothing
    kept = json.dumps([record for _expiry, record in app.session_interface.store._records.values()])
    assert "pending_totp" in kept and secret not in kept  # the secret on offer waits in the session, encrypted
    assert not two_factor.has_totp(user)

    wrong = forms.post("/account/two-factor/app", {"code": "000000"}, page="/account/two-factor/app")
    assert wrong.status_code == 200 and "This code is not correct" in wrong.get_data(as_text=True)
    assert not two_factor.has_totp(user)

    done = forms.post("/account/two-factor/app", {"code": pyotp.TOTP(secret).now()}, page="/account/two-factor/app")
    assert done.headers["Location"] == "/account/two-factor/backup-codes/new"
    codes_page = client.get("/account/two-factor/backup-codes/new").get_data(as_text=True)
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", codes_page)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/account/two-factor/backup-codes/new").headers["Location"] == "/account/security"  # once
    stored = db.session.execute(text("SELECT secret FROM totp_credentials")).scalar_one()
    assert secret not in stored and stored.startswith("gAAAA")  # Fernet token: encrypted at rest
    stored_hashes = db.session.scalars(select(BackupCode.code_hash)).all()
    assert len(stored_hashes) == 10 and all(h.startswith("$argon2id$") for h in stored_hashes)
    assert not any(code.replace("-", "") in h for code in codes for h in stored_hashes)
    assert two_factor.has_totp(user)
    assert {"TWO_FACTOR_ENABLE", "BACKUP_CODES_GENERATE"} <= set(actions(db))


def test_sign_in_asks_for_the_code_after_the_password(db, client, forms, make_user, app):
    user = make_user(Role.ADMIN, with_2fa=True)
    response = sign_in_password(forms, user)
    assert response.headers["Location"] == "/login/two-factor"
    assert client.get("/dashboard").status_code == 302  # not signed in yet
    page = client.get("/login/two-factor").get_data(as_text=True)
    assert "Code from your authenticator app" in page and "Use a backup code instead" in page
    before = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    done = forms.post("/login/two-factor", {"code": totp_code(user)}, page="/login/two-factor")
    assert done.headers["Location"] == "/dashboard"
    assert client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value != before  # new id at sign-in
    assert client.get("/dashboard").status_code == 200
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "LOGIN_SUCCESS")).one()
    assert entry.description == "Signed in with password and authenticator app"


def test_codes_one_step_either_way_are_accepted_and_two_steps_are_not(db, make_user):
    user = make_user(Role.ADMIN, with_2fa=True)
    actor = Actor.for_user(user)
    now = time.time()
    totp = pyotp.TOTP(user.totp_secret)
    with pytest.raises(two_factor.CodeRejected):
        two_factor.verify_totp(actor, user, totp.at(now - 60), purpose="test", now=now)
    with pytest.raises(two_factor.CodeRejected):
        two_factor.verify_totp(actor, user, totp.at(now + 60), purpose="test", now=now)
    two_factor.verify_totp(actor, user, totp.at(now - 30), purpose="test", now=now)
    two_factor.verify_totp(actor, user, totp.at(now + 30), purpose="test", now=now)
    # After the newest step was used, an older (still in-window) code is a replay.
    with pytest.raises(two_factor.CodeReplayed):
        two_factor.verify_totp(actor, user, totp.at(now), purpose="test", now=now)


def test_a_replayed_code_is_refused_audited_and_explained(db, client, forms, make_user, app):
    user = make_user(Role.ADMIN, with_2fa=True)
    code = totp_code(user)
    sign_in_password(forms, user)
    assert forms.post("/login/two-factor", {"code": code}, page="/login/two-factor").status_code == 302
    other = app.test_client()
    from tests.conftest import FormClient

    other_forms = FormClient(other)
    sign_in_password(other_forms, user)
    replay = other_forms.post("/login/two-factor", {"code": code}, page="/login/two-factor")
    assert replay.status_code == 200
    assert "This code has already been used" in replay.get_data(as_text=True)
    assert other.get("/dashboard").status_code == 302
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "TWO_FACTOR_REPLAY")).one()
    assert entry.result == "failure" and entry.resource_id == str(user.id)


def test_wrong_codes_are_throttled_per_account(db, forms, make_user):
    user = make_user(Role.ADMIN, with_2fa=True)
    sign_in_password(forms, user)
    for _ in range(5):
        assert forms.post("/login/two-factor", {"code": "000000"}, page="/login/two-factor").status_code == 200
    throttled = forms.post("/login/two-factor", {"code": totp_code(user)}, page="/login/two-factor")
    assert throttled.status_code == 429 and "Try again in 5 minutes" in throttled.get_data(as_text=True)
    assert 240 < int(throttled.headers["Retry-After"]) <= 300  # the five-minute pause, not the 1-minute window
    assert actions(db, "failure").count("TWO_FACTOR_FAILURE") == 6


def test_ten_wrong_codes_lock_until_a_backup_code_is_used(db, client, forms, make_user):
    user = make_user(Role.ADMIN, with_2fa=True)
    actor = Actor.for_user(user)
    for n in range(10):
        two_factor.SECOND_FACTOR_SHORT.clear(f"user:{user.id}")  # past the short pause: only the lock counts
        with pytest.raises(two_factor.SecondFactorLocked if n == 9 else two_factor.CodeRejected):
            two_factor.verify_totp(actor, user, "000000", purpose="test")
    db.session.commit()
    assert user.two_factor_locked_at is not None and "TWO_FACTOR_LOCK" in actions(db)
    with pytest.raises(two_factor.SecondFactorLocked):  # even the right code
        two_factor.verify_totp(actor, user, totp_code(user), purpose="test")

    sign_in_password(forms, user)
    page = client.get("/login/two-factor").get_data(as_text=True)
    assert "are locked after too many wrong codes" in page and 'name="code"' not in page
    used = forms.post("/login/two-factor/backup", {"backup-code": user.backup_codes[0].upper()},
                      page="/login/two-factor")
    assert used.headers["Location"] == "/dashboard"
    assert "9 codes are left" in client.get("/dashboard").get_data(as_text=True)
    db.session.refresh(user)
    assert user.two_factor_locked_at is None
    assert {"BACKUP_CODE_USE", "TWO_FACTOR_UNLOCK"} <= set(actions(db))


def test_a_backup_code_works_once(db, app, forms, make_user):
    from tests.conftest import FormClient

    user = make_user(Role.ADMIN, with_2fa=True)
    sign_in_password(forms, user)
    assert forms.post("/login/two-factor/backup", {"backup-code": user.backup_codes[3]},
                      page="/login/two-factor").status_code == 302
    again = FormClient(app.test_client())
    sign_in_password(again, user)
    refused = again.post("/login/two-factor/backup", {"backup-code": user.backup_codes[3]}, page="/login/two-factor")
    assert refused.status_code == 200
    assert "not correct or has already been used" in refused.get_data(as_text=True)
    assert two_factor.backup_codes_left(user) == 9


def test_regenerating_backup_codes_needs_the_password_and_a_current_code(db, client, forms, make_user, login_as):
    user = make_user(Role.ADMIN, with_2fa=True)
    login_as(user)
    old = user.backup_codes
    wrong_password = forms.post("/account/two-factor/backup-codes", {"password": "not my password!",
                                                                     "code": totp_code(user, offset=1)})
    assert wrong_password.status_code == 400 and "This is not your password." in wrong_password.get_data(as_text=True)
    wrong_code = forms.post("/account/two-factor/backup-codes", {"password": DEFAULT_PASSWORD, "code": "000000"})
    assert "This code is not correct." in wrong_code.get_data(as_text=True)
    done = forms.post("/account/two-factor/backup-codes", {"password": DEFAULT_PASSWORD,
                                                           "code": totp_code(user, offset=1)})
    assert done.headers["Location"] == "/account/two-factor/backup-codes/new"
    new_codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", client.get(done.headers["Location"]).get_data(
        as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(old)
    with pytest.raises(two_factor.CodeRejected):  # the old set is void
        two_factor.use_backup_code(Actor.for_user(user), user, old[0], purpose="test")


def test_remaining_codes_are_shown_with_a_warning_below_four(db, client, make_user, login_as):
    user = make_user(Role.ADMIN, with_2fa=True)
    login_as(user)
    page = client.get("/account/security").get_data(as_text=True)
    assert "10 unused backup codes." in page and "running out of backup codes" not in page
    for code in user.backup_codes[:7]:
        two_factor.use_backup_code(Actor.for_user(user), user, code, purpose="test")
    db.session.commit()
    page = client.get("/account/security").get_data(as_text=True)
    assert "3 unused backup codes." in page and "running out of backup codes" in page
    assert "Only 3 backup codes are left." in client.get("/account").get_data(as_text=True)


def test_step_up_asks_accounts_with_a_second_factor_for_it(db, client, forms, make_user, login_as, app):
    user = make_user(Role.ADMIN, with_2fa=True)
    login_as(user)
    from app.security import stepup

    with client.session_transaction() as s:
        s.pop(stepup._KEY, None)
    page = client.get("/step-up?next=/account").get_data(as_text=True)
    assert "Code from your authenticator app, or a backup code" in page and 'name="password"' not in page
    refused = forms.post("/step-up", {"code": DEFAULT_PASSWORD, "next": "/account"}, page="/step-up")
    assert "This code is not correct." in refused.get_data(as_text=True)
    before = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    done = forms.post("/step-up", {"code": totp_code(user, offset=1), "next": "/account"}, page="/step-up")
    assert done.headers["Location"] == "/account"
    assert client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value != before
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "STEP_UP",
                                                      AuditLog.result == "success")).one()
    assert entry.description == "Re-authenticated with authenticator app"
    with client.session_transaction() as s:
        s.pop(stepup._KEY, None)
    by_backup = forms.post("/step-up", {"code": user.backup_codes[0], "next": "/account"}, page="/step-up")
    assert by_backup.headers["Location"] == "/account"


def test_removing_the_only_factor_is_refused_when_the_role_requires_one(db, client, forms, make_user, login_as):
    admin = make_user(Role.ADMIN, with_2fa=True)
    login_as(admin)  # the second factor at sign-in counts as a fresh step-up
    refused = forms.post("/account/two-factor/app/remove", page="/account/security")
    assert refused.status_code == 302
    assert "add a passkey before removing" in client.get("/account/security").get_data(as_text=True)
    assert two_factor.has_totp(admin)


def test_a_user_may_remove_an_optional_app_and_its_backup_codes_go_too(db, client, forms, make_user, login_as):
    user = make_user(Role.INSTITUTION_ADMIN, with_2fa=True)
    login_as(user)
    forms.post("/account/two-factor/app/remove", page="/account/security")
    assert not two_factor.has_totp(user) and two_factor.backup_codes_left(user) == 0
    assert "TWO_FACTOR_DISABLE" in actions(db)


def test_pending_sign_in_expires(db, client, forms, make_user, monkeypatch):
    from app.auth import flow

    user = make_user(Role.ADMIN, with_2fa=True)
    sign_in_password(forms, user)
    later = time.time() + flow.PENDING_LIFETIME + 1
    monkeypatch.setattr(flow.time, "time", lambda: later)
    response = client.get("/login/two-factor")
    assert response.headers["Location"] == "/login"


def test_a_pending_secret_is_replaced_when_stale(db, app, make_user, monkeypatch):
    user, other = make_user(Role.ADMIN), make_user(Role.ADMIN)
    first = two_factor.begin_totp_enrolment(user)
    assert two_factor.begin_totp_enrolment(user, first) is first  # fresh: kept, so the QR code stays
    kept = first.to_session()
    assert first.secret not in json.dumps(kept)
    assert two_factor.PendingSecret.from_session(kept, user) == first
    assert two_factor.PendingSecret.from_session(kept, other) is None  # another account's offer is not taken
    assert two_factor.PendingSecret.from_session({**kept, "secret": "forged"}, user) is None
    monkeypatch.setattr(two_factor, "PENDING_SECRET_LIFETIME", timedelta(0))  # every offer is now stale
    assert two_factor.PendingSecret.from_session(kept, user) is None
    second = two_factor.begin_totp_enrolment(user, first)
    assert second.secret != first.secret
    assert db.session.scalar(select(TotpCredential.id).where(TotpCredential.user_id == user.id)) is None


def test_an_expired_offer_is_not_confirmed_and_a_new_key_is_shown(app, db, client, forms, make_user, login_as,
                                                                 monkeypatch):
    user = make_user(Role.ADMIN)
    login_as(user)
    stepped_up(client, forms)
    first = secret_on_page(client.get("/account/two-factor/app").get_data(as_text=True))
    token = forms.token("/account/two-factor/app")
    monkeypatch.setattr(two_factor, "PENDING_SECRET_LIFETIME", timedelta(0))  # the offer went stale meanwhile
    refused = client.post("/account/two-factor/app", data={"csrf_token": token, "code": pyotp.TOTP(first).now()})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "had expired and a new one is shown" in page
    assert secret_on_page(page) != first and not two_factor.has_totp(user)


def test_superadmin_unlock_and_reset(db, make_user, app):
    admin = make_user(Role.SUPERADMIN)
    user = make_user(Role.ADMIN, with_2fa=True)
    actor = Actor.for_user(admin)
    from app.database import utcnow
    from app.users.services import update_bookkeeping

    update_bookkeeping(user, two_factor_locked_at=utcnow())
    assert two_factor.unlock(actor, user) is True and user.two_factor_locked_at is None
    assert two_factor.unlock(actor, user) is False
    with pytest.raises(two_factor.SecondFactorError):
        two_factor.reset_two_factor(actor, user, "   ")
    with pytest.raises(two_factor.SecondFactorError):
        two_factor.reset_two_factor(actor, admin, "lost my phone")
    two_factor.reset_two_factor(actor, user, "Lost phone, identity checked by call (ticket 42)")
    db.session.commit()
    assert two_factor.summary(user).enabled is False and two_factor.backup_codes_left(user) == 0
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "TWO_FACTOR_RESET")).one()
    assert "ticket 42" in entry.description and entry.changes["authenticator_app"] == {"before": True,
                                                                                       "after": False}
