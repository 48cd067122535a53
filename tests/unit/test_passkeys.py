"""Passkeys as a second factor, with a software authenticator (Chromium's virtual one in e2e)."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.audit.models import AuditLog
from app.auth import two_factor
from app.auth.models import PasskeyCredential
from app.users.models import Role
from tests.conftest import DEFAULT_PASSWORD, FormClient, csrf_token_from
from tests.soft_authenticator import SoftAuthenticator


def post_json(client, url, body=None, *, page="/account/security"):
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(url, data=json.dumps(body or {}), content_type="application/json",
                       headers={"X-CSRFToken": token, "Accept": "application/json"})


def register_passkey(client, forms, authenticator, name="Laptop", password=DEFAULT_PASSWORD):
    forms.post("/step-up", {"password": password, "next": "/account/passkeys/new"}, page="/step-up")
    options = post_json(client, "/account/passkeys/options").get_json()
    assert options["rp"]["id"] == "localhost" and options["authenticatorSelection"]["userVerification"]
    return post_json(client, "/account/passkeys", {"credential": authenticator.register(options), "name": name})


def test_register_then_sign_in_with_a_passkey(db, app, client, forms, make_user, login_as):
    user = make_user(Role.ADMIN)
    login_as(user)
    key = SoftAuthenticator()
    done = register_passkey(client, forms, key)
    assert done.status_code == 200 and done.get_json()["redirect"] == "/account/two-factor/backup-codes/new"
    assert "passkey-list" in client.get("/account/security").get_data(as_text=True)
    stored = db.session.scalars(select(PasskeyCredential)).one()
    assert stored.user_id == user.id and stored.name == "Laptop" and stored.transports == ["internal"]
    assert two_factor.backup_codes_left(user) == 10  # a first second factor brings backup codes

    visitor = app.test_client()
    visitor_forms = FormClient(visitor)
    response = visitor_forms.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.headers["Location"] == "/login/two-factor"
    page = visitor.get("/login/two-factor").get_data(as_text=True)
    assert "Use a passkey" in page and 'name="code" type="text"' not in page  # no app set up: no code field
    options = post_json(visitor, "/login/passkey/options", page="/login/two-factor").get_json()
    assert [c["id"] for c in options["allowCredentials"]] == [stored.credential_id]
    answer = key.assert_(options)
    result = post_json(visitor, "/login/passkey/verify", {"credential": answer}, page="/login/two-factor")
    assert result.status_code == 200 and result.get_json()["redirect"] == "/dashboard"
    assert visitor.get("/dashboard").status_code == 200
    db.session.refresh(stored)
    assert stored.sign_count == 1 and stored.last_used_at is not None
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "LOGIN_SUCCESS")
                               .order_by(AuditLog.id.desc())).first()
    assert entry.description == "Signed in with password and a passkey"


def test_a_replayed_or_foreign_assertion_is_refused(db, app, client, forms, make_user, login_as):
    user = make_user(Role.ADMIN)
    login_as(user)
    key = SoftAuthenticator()
    register_passkey(client, forms, key)
    visitor_forms = FormClient(app.test_client())
    visitor = visitor_forms.client
    visitor_forms.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD})

    options = post_json(visitor, "/login/passkey/options", page="/login/two-factor").get_json()
    stranger = SoftAuthenticator()
    refused = post_json(visitor, "/login/passkey/verify", {"credential": stranger.assert_(options)},
                        page="/login/two-factor")
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "passkey_rejected"

    # The challenge is used up by that attempt: the real key's answer to it is refused too.
    again = post_json(visitor, "/login/passkey/verify", {"credential": key.assert_(options)}, page="/login/two-factor")
    assert again.get_json()["error"]["code"] == "challenge_expired"

    options = post_json(visitor, "/login/passkey/options", page="/login/two-factor").get_json()
    wrong_origin = post_json(visitor, "/login/passkey/verify",
                             {"credential": key.assert_(options, origin="https://evil.example")},
                             page="/login/two-factor")
    assert wrong_origin.status_code == 400
    assert visitor.get("/dashboard").status_code == 302
    failures = db.session.scalars(select(AuditLog).where(AuditLog.action == "TWO_FACTOR_FAILURE")).all()
    assert len(failures) == 2 and all(f.result == "failure" for f in failures)


def test_registration_needs_a_recent_step_up_and_a_name(db, client, forms, make_user, login_as):
    user = make_user(Role.ADMIN)
    login_as(user)
    assert client.get("/account/passkeys/new").headers["Location"].startswith("/step-up")
    refused = post_json(client, "/account/passkeys/options")
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "step_up_required"
    forms.post("/step-up", {"password": DEFAULT_PASSWORD, "next": "/account/passkeys/new"}, page="/step-up")
    assert client.get("/account/passkeys/new").status_code == 200
    options = post_json(client, "/account/passkeys/options").get_json()
    nameless = post_json(client, "/account/passkeys", {"credential": SoftAuthenticator().register(options)})
    assert nameless.get_json()["error"]["code"] == "name_required"


def test_step_up_with_a_passkey_and_removal(db, client, forms, make_user, login_as):
    from app.security import stepup

    user = make_user(Role.INSTITUTION_ADMIN)
    login_as(user)
    key = SoftAuthenticator()
    register_passkey(client, forms, key, name="Phone")
    with client.session_transaction() as s:
        s.pop(stepup._KEY, None)
    options = post_json(client, "/step-up/passkey/options", page="/step-up").get_json()
    done = post_json(client, "/step-up/passkey/verify", {"credential": key.assert_(options), "next": "/account"},
                     page="/step-up")
    assert done.get_json() == {"redirect": "/account"}
    passkey = db.session.scalars(select(PasskeyCredential)).one()
    removed = forms.post(f"/account/passkeys/{passkey.id}/remove", page="/account/security")
    assert removed.headers["Location"] == "/account/security"
    assert db.session.scalars(select(PasskeyCredential)).all() == []
    assert two_factor.backup_codes_left(user) == 0  # no factor left: the codes go too
    assert forms.post("/account/passkeys/999999/remove", page="/account/security").status_code == 404


def test_the_last_passkey_of_a_required_role_stays(db, client, forms, make_user, login_as):
    user = make_user(Role.ADMIN)
    login_as(user)
    register_passkey(client, forms, SoftAuthenticator())
    passkey = db.session.scalars(select(PasskeyCredential)).one()
    forms.post(f"/account/passkeys/{passkey.id}/remove", page="/account/security")
    assert "this is your last one" in client.get("/account/security").get_data(as_text=True)
    assert db.session.get(PasskeyCredential, passkey.id) is not None


def test_passkey_endpoints_need_a_pending_sign_in(db, client):
    response = post_json(client, "/login/passkey/options", page="/login")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "no_pending_sign_in"
