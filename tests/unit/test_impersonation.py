"""Support impersonation: who may, read-only by default, time limit, banner, audit with both people."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.personal_data import vault
from app.security.actor import Actor
from app.users import impersonation, impersonation_guard
from app.users.models import Impersonation, Role
from tests.conftest import DEFAULT_PASSWORD


def step_up(forms, next_url):
    forms.post("/step-up", {"password": DEFAULT_PASSWORD, "next": next_url}, page="/step-up")


def start(forms, target, reason="Ticket 1234: cannot see transactions", allow_changes=False):
    url = f"/users/{target.id}/impersonate"
    step_up(forms, url)
    data = {"reason": reason}
    if allow_changes:
        data["allow_changes"] = "y"
    return forms.post(url, data, page=url)


def entries(db, action):
    return db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()


def test_start_needs_step_up_and_a_reason_then_shows_the_banner(db, client, forms, make_user, login_as):
    support = make_user(Role.ADMIN, email="support@example.com")
    customer = make_user(Role.CUSTOMER, email="ani@example.com")
    login_as(support)
    assert client.get(f"/users/{customer.id}/impersonate").headers["Location"].startswith("/step-up")
    step_up(forms, f"/users/{customer.id}/impersonate")
    no_reason = forms.post(f"/users/{customer.id}/impersonate", {"reason": "  "},
                           page=f"/users/{customer.id}/impersonate")
    assert no_reason.status_code == 400
    response = forms.post(f"/users/{customer.id}/impersonate", {"reason": "Ticket 1234"},
                          page=f"/users/{customer.id}/impersonate")
    assert response.headers["Location"] == "/"
    page = client.get("/account").get_data(as_text=True)
    assert "support@example.com is impersonating ani@example.com." in page
    assert "Read-only" in page and "Stop impersonating" in page and "ani@example.com" in page
    [started] = entries(db, "IMPERSONATION_START")
    assert started.actor_id == support.id and started.resource_id == str(customer.id)
    assert "Ticket 1234" in started.description and started.changes["impersonation"]["allow_changes"] is False


def test_read_only_refuses_changes_with_a_clear_message_and_audits_both(db, client, forms, make_user, login_as):
    support = make_user(Role.SUPERADMIN)
    customer = make_user(Role.CUSTOMER)
    login_as(support)
    start(forms, customer)
    refused = forms.post("/account/password", {"current_password": "x" * 12, "new_password": "y" * 12,
                                               "confirm_password": "y" * 12}, page="/account/password")
    assert refused.status_code == 403
    assert "read-only mode: changes are not allowed" in refused.get_data(as_text=True)
    [entry] = entries(db, "IMPERSONATION_REFUSED")
    assert (entry.actor_id, entry.impersonator_id) == (customer.id, support.id)
    assert vault.reveal(entry.impersonator_email) == support.email and entry.result == "failure"
    assert entry.resource_repr == "POST /account/password"
    # Reading is fine, and the language can still be switched.
    assert client.get("/account/sessions").status_code == 200
    assert forms.post("/language", {"lang": "id", "next": "/account"}, page="/account").status_code == 302


def test_allowed_changes_are_recorded_under_both_names(db, client, forms, make_user, login_as):
    support = make_user(Role.ADMIN)
    customer = make_user(Role.CUSTOMER)
    login_as(support)
    start(forms, customer, allow_changes=True)
    assert "Changes allowed" in client.get("/account").get_data(as_text=True)
    forms.post("/account/sessions/end", {"scope": "others"}, page="/account/sessions")
    [entry] = entries(db, "SESSION_END")
    assert (entry.actor_id, entry.impersonator_id, vault.reveal(entry.impersonator_email)) == (customer.id, support.id,
                                                                                  support.email)
    assert entries(db, "IMPERSONATION_START")[0].changes["impersonation"]["allow_changes"] is True


def test_stop_returns_to_the_impersonator_and_the_user_sees_the_visit(db, app, client, forms, make_user, login_as):
    support = make_user(Role.ADMIN, display_name="Sari from support")
    customer = make_user(Role.CUSTOMER)
    login_as(support)
    start(forms, customer, reason="Ticket 77")
    stopped = forms.post("/impersonation/stop", page="/account")
    assert stopped.headers["Location"] == f"/users/{customer.id}"
    page = client.get(f"/users/{customer.id}").get_data(as_text=True)
    assert "The impersonation has ended" in page and "impersonating" not in page.split("<main")[0]
    [ended] = entries(db, "IMPERSONATION_END")
    assert ended.actor_id == support.id and "(stopped)" in ended.description
    record = db.session.scalars(select(Impersonation)).one()
    assert record.ended_at is not None and record.end_reason == "stopped"

    from tests.conftest import FormClient

    own = FormClient(app.test_client())
    own.post("/login", {"email": customer.email, "password": DEFAULT_PASSWORD})
    account = own.client.get("/account").get_data(as_text=True)
    assert "Support access to your account" in account and "Ticket 77" in account and "Sari from support" in account


def test_the_time_limit_ends_it(db, client, forms, make_user, login_as, monkeypatch):
    support = make_user(Role.ADMIN)
    customer = make_user(Role.CUSTOMER)
    login_as(support)
    start(forms, customer)
    later = time.time() + 15 * 60 + 1
    monkeypatch.setattr(impersonation_guard.time, "time", lambda: later)
    response = client.get("/account")
    assert response.headers["Location"] == f"/users/{customer.id}"
    monkeypatch.undo()
    assert "reached its time limit" in client.get(f"/users/{customer.id}").get_data(as_text=True)
    [ended] = entries(db, "IMPERSONATION_END")
    assert "(expired)" in ended.description and ended.actor_id == support.id
    record = db.session.scalars(select(Impersonation)).one()
    assert record.end_reason == "expired" and record.ended_at is not None
    assert record.ended_at <= record.expires_at  # at its deadline at the latest (the test moved only the guard's clock)
    assert "time limit reached" in client.get(f"/users/{customer.id}").get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPERADMIN])
def test_never_admins_or_superadmins(db, client, forms, make_user, login_as, role):
    login_as(make_user(Role.SUPERADMIN))
    target = make_user(role)
    step_up(forms, f"/users/{target.id}/impersonate")
    assert client.get(f"/users/{target.id}/impersonate").status_code == 403


def test_institution_admins_cannot_impersonate(db, client, make_user, make_institution, login_as):
    bank = make_institution()
    login_as(make_user(Role.INSTITUTION_ADMIN, institution=bank))
    customer = make_user(Role.CUSTOMER, institution=bank)
    assert client.get(f"/users/{customer.id}/impersonate").status_code == 403


def test_no_nesting_and_no_inactive_targets(db, make_user):
    support = make_user(Role.ADMIN)
    customer = make_user(Role.CUSTOMER)
    actor = Actor.for_user(support)
    with pytest.raises(impersonation.ImpersonationRefused):
        impersonation.start(actor, customer, reason="x", allow_changes=False, limit_seconds=60,
                            already_impersonating=True)
    inactive = make_user(Role.CUSTOMER, active=False)
    with pytest.raises(impersonation.ImpersonationRefused):
        impersonation.start(actor, inactive, reason="x", allow_changes=False, limit_seconds=60,
                            already_impersonating=False)
    with pytest.raises(impersonation.ImpersonationRefused):
        impersonation.start(Actor.for_user(customer), support, reason="x", allow_changes=False, limit_seconds=60,
                            already_impersonating=False)


def test_signing_out_ends_the_impersonation_as_the_impersonator(db, client, forms, make_user, login_as):
    support = make_user(Role.ADMIN)
    customer = make_user(Role.CUSTOMER)
    login_as(support)
    start(forms, customer)
    forms.post("/logout", page="/account")
    [ended] = entries(db, "IMPERSONATION_END")
    assert "(signed out)" in ended.description
    logout = entries(db, "LOGOUT")[-1]
    assert logout.actor_id == support.id and logout.impersonator_id is None
    assert client.get("/account").status_code == 302


def test_deactivating_the_target_ends_the_impersonation(db, client, forms, make_user, login_as):
    support = make_user(Role.SUPERADMIN)
    customer = make_user(Role.CUSTOMER)
    login_as(support)
    start(forms, customer)
    customer.is_active_account = False
    db.session.commit()
    response = client.get("/account")
    assert response.headers["Location"] == f"/users/{customer.id}"
    assert "no longer available" in client.get(f"/users/{customer.id}").get_data(as_text=True)


def test_an_abandoned_impersonation_shows_as_over_and_deactivation_closes_open_ones(db, make_user):
    from datetime import timedelta

    from app.users import administration

    support = make_user(Role.ADMIN)
    customer = make_user(Role.CUSTOMER)
    record = impersonation.start(Actor.for_user(support), customer, reason="x", allow_changes=False,
                                 limit_seconds=60, already_impersonating=False)
    assert record.over_at is None
    record.expires_at -= timedelta(minutes=2)
    assert record.over_at == record.expires_at
    boss = make_user(Role.SUPERADMIN)
    administration.deactivate_user(Actor.for_user(boss), support, expected_version=support.version)
    db.session.refresh(record)
    assert record.end_reason == "account unavailable" and record.ended_at is not None


def test_abandoned_impersonations_are_closed_by_the_cleanup_command(db, app, runner, make_user):
    """Nobody came back to stop it: the scheduled command sets ended_at (at the deadline), audits
    each end with the reason "expired" once, and leaves live ones alone."""
    from datetime import timedelta

    support = make_user(Role.ADMIN)
    customer, other = make_user(Role.CUSTOMER), make_user(Role.CUSTOMER)
    actor = Actor.for_user(support)
    abandoned = impersonation.start(actor, customer, reason="Ticket 9", allow_changes=False,
                                    limit_seconds=60, already_impersonating=False)
    live = impersonation.start(actor, other, reason="Ticket 10", allow_changes=False, limit_seconds=600,
                               already_impersonating=False)
    abandoned.expires_at -= timedelta(minutes=5)
    db.session.commit()
    deadline = abandoned.expires_at

    result = runner.invoke(args=["users", "end-expired-impersonations"])
    assert result.exit_code == 0 and "1 expired impersonation(s) ended." in result.output
    db.session.expire_all()
    assert (abandoned.ended_at, abandoned.end_reason) == (deadline, "expired")
    assert live.ended_at is None and live.end_reason is None
    [ended] = entries(db, "IMPERSONATION_END")
    assert "(expired)" in ended.description and ended.resource_id == str(customer.id)
    assert ended.changes["impersonation"] == {"id": abandoned.id, "ended": "expired"}

    again = runner.invoke(args=["users", "end-expired-impersonations"])
    assert "0 expired impersonation(s) ended." in again.output and len(entries(db, "IMPERSONATION_END")) == 1
    assert impersonation.end(actor, abandoned, "stopped") is False  # already closed: not ended twice


def test_an_expired_impersonation_shows_as_ended_on_both_pages(db, app, runner, make_user, client_for):
    from datetime import timedelta

    boss = make_user(Role.SUPERADMIN)
    support = make_user(Role.ADMIN)
    customer = make_user(Role.CUSTOMER)
    record = impersonation.start(Actor.for_user(support), customer, reason="Ticket 11",
                                 allow_changes=False, limit_seconds=60, already_impersonating=False)
    record.expires_at -= timedelta(minutes=5)
    db.session.commit()
    runner.invoke(args=["users", "end-expired-impersonations"])
    detail = client_for(boss).get(f"/users/{customer.id}").get_data(as_text=True)
    assert "Ticket 11" in detail and "time limit reached" in detail and "still going on" not in detail
    account = client_for(customer).get("/account").get_data(as_text=True)
    assert "Ticket 11" in account and "still going on" not in account
