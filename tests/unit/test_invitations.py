"""Invitations and password resets: one-time links by e-mail, never a password chosen by an admin."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.audit.models import AuditLog
from app.database import utcnow
from app.users.models import AccountToken, Role, User
from tests.conftest import DEFAULT_PASSWORD, FormClient, link_in

NEW_PASSWORD = "a brand new passphrase"


def invite(forms, email="new.person@example.com", role="customer", institution_id=None, name="New Person"):
    return forms.post("/users/new", {"email": email, "display_name": name, "role": role,
                                     "institution_id": str(institution_id) if institution_id else "None"})


def test_invited_user_sets_a_password_with_the_link_once(db, app, client, forms, make_user, make_institution,
                                                         login_as, outbox):
    boss = make_user(Role.ADMIN)
    bank = make_institution()
    login_as(boss)
    response = invite(forms, institution_id=bank.id)
    invited = db.session.scalars(select(User).where(User.email == "new.person@example.com")).one()
    assert response.headers["Location"] == f"/users/{invited.id}"
    assert invited.password_hash is None and invited.institution_id == bank.id
    [message] = outbox
    assert message["To"] == "new.person@example.com" and "invited you" in message.get_content()
    link = link_in(message, "/invitation/")
    stored = db.session.scalars(select(AccountToken.token_hash)).one()
    assert link.rsplit("/", 1)[1] not in stored  # only a hash is kept

    visitor = FormClient(app.test_client())
    page = visitor.client.get(link)
    assert page.status_code == 200 and "new.person@example.com" in page.get_data(as_text=True)
    weak = visitor.post(link, {"new_password": "qwerty123456", "confirm_password": "qwerty123456"})
    assert weak.status_code == 400 and "most commonly used" in weak.get_data(as_text=True)
    done = visitor.post(link, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert done.headers["Location"] == "/login"
    assert visitor.client.get(link).status_code == 410  # used up
    signed_in = visitor.post("/login", {"email": "new.person@example.com", "password": NEW_PASSWORD})
    assert signed_in.headers["Location"] == "/account"
    acts = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert acts.count("USER_CREATE") == 2 and "INVITATION_SEND" in acts and "INVITATION_ACCEPT" in acts


def test_resend_voids_the_old_link_and_revoke_voids_all(db, app, client, forms, make_user, login_as, outbox):
    boss = make_user(Role.SUPERADMIN)
    login_as(boss)
    invite(forms, email="late@example.com", role="admin")
    user = db.session.scalars(select(User).where(User.email == "late@example.com")).one()
    first = link_in(outbox[0], "/invitation/")
    forms.post(f"/users/{user.id}/invitation/resend", {"version": user.version}, page=f"/users/{user.id}")
    second = link_in(outbox[1], "/invitation/")
    visitor = app.test_client()
    assert visitor.get(first).status_code == 410 and visitor.get(second).status_code == 200
    assert "An invitation is open until" in client.get(f"/users/{user.id}").get_data(as_text=True)
    forms.post(f"/users/{user.id}/invitation/revoke", {"version": user.version}, page=f"/users/{user.id}")
    assert visitor.get(second).status_code == 410
    assert "INVITATION_REVOKE" in db.session.scalars(select(AuditLog.action)).all()


def test_an_expired_link_is_refused(db, app, forms, make_user, login_as, outbox):
    login_as(make_user(Role.SUPERADMIN))
    invite(forms, email="slow@example.com", role="admin")
    db.session.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    page = app.test_client().get(link_in(outbox[0], "/invitation/"))
    assert page.status_code == 410 and "Ask the person who invited you" in page.get_data(as_text=True)


def test_invitation_input_errors_change_nothing(db, forms, make_user, login_as, outbox):
    boss = make_user(Role.ADMIN)
    login_as(boss)
    taken = invite(forms, email=boss.email, role="customer", institution_id=boss.institution_id or None)
    assert taken.status_code == 400
    no_institution = invite(forms, email="x@example.com", role="customer")
    assert no_institution.status_code == 400
    assert "Choose the institution" in no_institution.get_data(as_text=True)
    assert outbox == []


def test_forgot_password_answers_the_same_and_resets_once(db, app, client, forms, make_user, outbox):
    user = make_user(Role.CUSTOMER)
    known = forms.post("/forgot-password", {"email": user.email.upper()})
    unknown = forms.post("/forgot-password", {"email": "nobody@example.com"})
    assert known.headers["Location"] == unknown.headers["Location"] == "/login"
    assert len(outbox) == 1 and outbox[0]["To"] == user.email
    # The user is signed in elsewhere; the reset ends that session.
    elsewhere = FormClient(app.test_client())
    elsewhere.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD})
    link = link_in(outbox[0], "/reset-password/")
    done = forms.post(link, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert done.headers["Location"] == "/login"
    assert elsewhere.client.get("/account").status_code == 302
    assert client.get(link).status_code == 410
    assert forms.post("/login", {"email": user.email, "password": NEW_PASSWORD}).status_code == 302
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "PASSWORD_RESET")).one()
    assert "1 session(s) ended" in entry.description


def test_reset_mails_per_address_are_limited(db, forms, make_user, outbox):
    user = make_user(Role.CUSTOMER)
    for _ in range(5):
        forms.post("/forgot-password", {"email": user.email})
    assert len(outbox) == 3


def test_admin_sends_a_reset_link_and_deactivated_accounts_get_none(db, forms, make_user, login_as, outbox):
    login_as(make_user(Role.ADMIN))
    target = make_user(Role.CUSTOMER)
    forms.post(f"/users/{target.id}/password-reset", {"version": target.version}, page=f"/users/{target.id}")
    assert outbox[0]["To"] == target.email and "/reset-password/" in outbox[0].get_content()
    inactive = make_user(Role.CUSTOMER, active=False)
    forms.post(f"/users/{inactive.id}/password-reset", {"version": inactive.version}, page=f"/users/{inactive.id}")
    forms.post("/forgot-password", {"email": inactive.email}, page="/forgot-password")
    assert len(outbox) == 1
