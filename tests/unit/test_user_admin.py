"""User administration: list, detail, edits with optimistic concurrency, roles, (de)activation."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.security.actor import Actor
from app.users import administration
from app.users.models import Role, User
from tests.conftest import DEFAULT_PASSWORD, FormClient


def step_up(forms, next_url="/users"):
    forms.post("/step-up", {"password": DEFAULT_PASSWORD, "next": next_url}, page="/step-up")


def edit_form(user, **changes):
    data = {"display_name": user.display_name, "role": user.role,
            "institution_id": str(user.institution_id) if user.institution_id else "None", "version": user.version}
    data.update(changes)
    return data


def emails_on(page) -> list[str]:
    return re.findall(r'<td[^>]*><a href="/users/\d+">([^<]+)</a></td>', page.get_data(as_text=True))


def test_list_searches_filters_and_pages(db, client, make_user, make_institution, login_as, monkeypatch):
    admin = make_user(Role.SUPERADMIN, email="boss@example.com")
    bank = make_institution(name="Bank Satu")
    make_user(Role.CUSTOMER, email="ayu@example.com", display_name="Ayu Lestari", institution=bank)
    make_user(Role.CUSTOMER, email="budi@example.com", display_name="Budi", institution=bank, active=False)
    make_user(Role.INSTITUTION_ADMIN, email="citra@example.com", institution=bank, with_2fa=True)
    login_as(admin)
    assert emails_on(client.get("/users?q=lestari")) == ["ayu@example.com"]
    assert emails_on(client.get("/users?q=AYU")) == ["ayu@example.com"]
    assert emails_on(client.get("/users?q=%25")) == []  # a wildcard is searched for literally
    assert emails_on(client.get("/users?active=no")) == ["budi@example.com"]
    assert emails_on(client.get("/users?two_factor=on")) == ["citra@example.com"]
    assert "boss@example.com" in emails_on(client.get("/users?two_factor=off"))
    assert emails_on(client.get(f"/users?institution={bank.id}&role=customer")) == ["ayu@example.com",
                                                                                     "budi@example.com"]

    monkeypatch.setitem(client.application.config, "LIST_PAGE_SIZE", 2)
    first = client.get("/users")
    assert emails_on(first) == ["ayu@example.com", "boss@example.com"]
    next_link = re.search(r'rel="next" href="([^"]+)"', first.get_data(as_text=True)).group(1).replace("&amp;", "&")
    assert emails_on(client.get(next_link)) == ["budi@example.com", "citra@example.com"]
    assert client.get("/users?cursor=garbage").status_code == 400


def test_institution_admins_see_and_manage_only_their_customers(db, client, make_user, make_institution, login_as):
    bank, other = make_institution(), make_institution()
    boss = make_user(Role.INSTITUTION_ADMIN, institution=bank)
    mine = make_user(Role.CUSTOMER, institution=bank)
    theirs = make_user(Role.CUSTOMER, institution=other)
    colleague = make_user(Role.INSTITUTION_ADMIN, institution=bank)
    login_as(boss)
    assert emails_on(client.get("/users")) == [mine.email]
    assert client.get(f"/users/{mine.id}").status_code == 200
    for hidden in (theirs, colleague):
        assert client.get(f"/users/{hidden.id}").status_code == 404
        assert client.get(f"/users/{hidden.id}/edit").status_code == 404
    forms = FormClient(client)
    response = forms.post(f"/users/{theirs.id}/deactivate", {"version": theirs.version}, page="/users")
    assert response.status_code == 404
    page = client.get("/users/new").get_data(as_text=True)
    assert re.search(r'<option[^>]*value="customer"', page) and not re.search(r'<option[^>]*value="admin"', page)


def test_admins_cannot_grant_staff_roles_but_superadmins_can(db, client, forms, make_user, login_as):
    admin = make_user(Role.ADMIN)
    target = make_user(Role.INSTITUTION_ADMIN)
    login_as(admin)
    step_up(forms)
    refused = forms.post(f"/users/{target.id}/edit", edit_form(target, role="admin", institution_id="None"),
                         page=f"/users/{target.id}/edit")
    assert refused.status_code == 400  # "admin" is not even a choice for an admin
    db.session.refresh(target)
    assert target.role == "institution_admin"
    other_admin = make_user(Role.ADMIN)
    assert client.get(f"/users/{other_admin.id}/edit").status_code == 403


def test_role_change_needs_step_up_ends_sessions_and_is_audited(db, app, client, forms, make_user, login_as):
    boss = make_user(Role.SUPERADMIN, with_2fa=True)
    target = make_user(Role.INSTITUTION_ADMIN)
    target_client = FormClient(app.test_client())
    target_client.post("/login", {"email": target.email, "password": DEFAULT_PASSWORD})
    assert target_client.client.get("/dashboard").status_code == 200
    login_as(boss)
    from app.security import stepup

    with client.session_transaction() as s:
        s.pop(stepup._KEY, None)
    asked = forms.post(f"/users/{target.id}/edit", edit_form(target, role="admin", institution_id="None"),
                       page=f"/users/{target.id}/edit")
    assert asked.headers["Location"].startswith("/step-up?next=/users/")
    forms.post("/step-up", {"code": boss.backup_codes[0], "next": "/users"}, page="/step-up")
    saved = forms.post(f"/users/{target.id}/edit", edit_form(target, role="admin", institution_id="None",
                                                              display_name="Promoted"),
                       page=f"/users/{target.id}/edit")
    assert saved.headers["Location"] == f"/users/{target.id}"
    db.session.refresh(target)
    assert (target.role, target.institution_id, target.display_name) == ("admin", None, "Promoted")
    assert target_client.client.get("/dashboard").status_code == 302  # signed out by the role change
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "USER_UPDATE")).one()
    assert entry.changes["role"] == {"before": "institution_admin", "after": "admin"}
    assert "role change ended 1 session" in entry.description
    assert target.two_factor_policy_since is not None  # admins must set up two-factor


def test_a_stale_form_gets_a_conflict_and_overwrites_nothing(db, client, forms, make_user, login_as):
    boss = make_user(Role.SUPERADMIN)
    target = make_user(Role.CUSTOMER, display_name="Original")
    login_as(boss)
    stale = edit_form(target, display_name="Mine")
    administration.update_user(Actor.for_user(boss), target, display_name="Theirs", role=Role.CUSTOMER,
                               institution_id=target.institution_id, expected_version=target.version)
    db.session.commit()
    response = forms.post(f"/users/{target.id}/edit", stale, page=f"/users/{target.id}/edit")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Someone else changed this account while you were editing it" in page and 'value="Theirs"' in page
    db.session.refresh(target)
    assert target.display_name == "Theirs"
    deactivate = forms.post(f"/users/{target.id}/deactivate", {"version": target.version - 1},
                            page=f"/users/{target.id}")
    assert deactivate.status_code == 302
    db.session.refresh(target)
    assert target.is_active


def test_the_last_active_superadmin_stays(db, make_user):
    only = make_user(Role.SUPERADMIN)
    actor = Actor.for_user(only)
    with pytest.raises(administration.LastSuperadmin):
        administration.update_user(actor, only, display_name="x", role=Role.ADMIN, institution_id=None,
                                   expected_version=only.version)
    second = make_user(Role.SUPERADMIN)
    with pytest.raises(administration.NotAllowed):
        administration.deactivate_user(actor, only, expected_version=only.version)
    administration.deactivate_user(actor, second, expected_version=second.version)
    other = make_user(Role.SUPERADMIN)
    administration.update_user(Actor.for_user(other), only, display_name="x", role=Role.ADMIN,
                               institution_id=None, expected_version=only.version)
    with pytest.raises(administration.LastSuperadmin):
        administration.update_user(Actor.for_user(other), other, display_name="x", role=Role.ADMIN,
                                   institution_id=None, expected_version=other.version)
    assert administration.count_active_superadmins() == 1


def test_deactivate_ends_sessions_and_reactivate_restores(db, app, client, forms, make_user, login_as, outbox):
    boss = make_user(Role.ADMIN)
    target = make_user(Role.CUSTOMER)
    theirs = FormClient(app.test_client())
    theirs.post("/login", {"email": target.email, "password": DEFAULT_PASSWORD})
    assert theirs.client.get("/account").status_code == 200
    login_as(boss)
    done = forms.post(f"/users/{target.id}/deactivate", {"version": target.version}, page=f"/users/{target.id}")
    assert done.headers["Location"] == f"/users/{target.id}"
    assert "was deactivated; 1 session ended" in client.get(f"/users/{target.id}").get_data(as_text=True)
    assert theirs.client.get("/account").status_code == 302
    db.session.refresh(target)
    forms.post(f"/users/{target.id}/reactivate", {"version": target.version}, page=f"/users/{target.id}")
    db.session.refresh(target)
    assert target.is_active
    found = db.session.scalars(select(AuditLog.action).where(AuditLog.resource_id == str(target.id))).all()
    assert {"USER_DEACTIVATE", "USER_REACTIVATE"} <= set(found)
    refused = forms.post(f"/users/{boss.id}/deactivate", {"version": boss.version}, page="/users")
    assert refused.status_code == 403  # an admin does not manage admins (themselves included)


def test_detail_page_shows_profile_two_factor_sessions_and_history(db, app, client, make_user, login_as):
    boss = make_user(Role.SUPERADMIN)
    target = make_user(Role.INSTITUTION_ADMIN, with_2fa=True)
    theirs = FormClient(app.test_client())
    theirs.post("/login", {"email": target.email, "password": DEFAULT_PASSWORD})
    theirs.post("/login/two-factor/backup", {"backup-code": target.backup_codes[0]}, page="/login/two-factor")
    login_as(boss)
    page = client.get(f"/users/{target.id}").get_data(as_text=True)
    assert target.email in page and "Institution admin" in page
    assert "9 unused backup codes" in page and "Reset two-factor sign-in" in page
    assert 'data-testid="sessions-table"' in page
    assert "USER_CREATE" in page and "BACKUP_CODES_GENERATE" in page
    assert "Impersonate" in page


def test_superadmin_resets_two_factor_with_a_reason(db, app, client, forms, make_user, login_as):
    boss = make_user(Role.SUPERADMIN, with_2fa=True)
    target = make_user(Role.ADMIN, with_2fa=True)
    theirs = FormClient(app.test_client())
    from tests.conftest import totp_code

    theirs.post("/login", {"email": target.email, "password": DEFAULT_PASSWORD})
    theirs.post("/login/two-factor", {"code": totp_code(target)}, page="/login/two-factor")
    assert theirs.client.get("/dashboard").status_code == 200
    login_as(boss)
    page = client.get(f"/users/{target.id}/two-factor/reset")
    assert page.status_code == 200  # the sign-in with a second factor counts as a fresh step-up
    no_reason = forms.post(f"/users/{target.id}/two-factor/reset", {"reason": ""},
                           page=f"/users/{target.id}/two-factor/reset")
    assert no_reason.status_code == 400
    done = forms.post(f"/users/{target.id}/two-factor/reset", {"reason": "New phone, called back on file number"},
                      page=f"/users/{target.id}/two-factor/reset")
    assert done.headers["Location"] == f"/users/{target.id}"
    assert theirs.client.get("/dashboard").status_code == 302
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "TWO_FACTOR_RESET")).one()
    assert entry.actor_id == boss.id and "called back" in entry.description


def test_superadmin_ends_a_users_sessions(db, app, client, forms, make_user, login_as):
    boss = make_user(Role.SUPERADMIN)
    target = make_user(Role.CUSTOMER)
    browsers = [FormClient(app.test_client()) for _ in range(2)]
    for browser in browsers:
        browser.post("/login", {"email": target.email, "password": DEFAULT_PASSWORD})
    login_as(boss)
    page = client.get(f"/users/{target.id}").get_data(as_text=True)
    keys = re.findall(r'name="key" value="([0-9a-f]{64})"', page)
    assert len(keys) == 2
    forms.post(f"/users/{target.id}/sessions/end", {"key": keys[0]}, page=f"/users/{target.id}")
    assert sorted(b.client.get("/account").status_code for b in browsers) == [200, 302]
    forms.post(f"/users/{target.id}/sessions/end", {"scope": "all"}, page=f"/users/{target.id}")
    assert [b.client.get("/account").status_code for b in browsers] == [302, 302]
    assert db.session.scalars(select(AuditLog.action).where(AuditLog.action == "SESSION_END")).all() == [
        "SESSION_END", "SESSION_END"]


def test_admin_may_not_touch_others_sessions(db, client, forms, make_user, login_as):
    admin = make_user(Role.ADMIN)
    target = make_user(Role.CUSTOMER)
    login_as(admin)
    assert 'data-testid="sessions-table"' not in client.get(f"/users/{target.id}").get_data(as_text=True)
    assert forms.post(f"/users/{target.id}/sessions/end", {"scope": "all"}, page="/users").status_code == 403


def test_navbar_links_to_users_for_managers_only(db, client, make_user, login_as):
    login_as(make_user(Role.INSTITUTION_ADMIN))
    assert 'href="/users"' in client.get("/dashboard").get_data(as_text=True)


def test_user_model_queries(db, make_user):
    admin = make_user(Role.ADMIN)
    assert administration.grantable_roles(Actor.for_user(admin)) == [Role.INSTITUTION_ADMIN, Role.CUSTOMER]
    customer = make_user(Role.CUSTOMER)
    assert db.session.scalars(administration.visible_users(Actor.for_user(customer))).all() == []
    assert not administration.can_see(Actor.for_user(customer), admin)
    assert administration.grantable_roles(Actor.system("t")) == []  # a role-less actor grants nothing
    assert isinstance(db.session.get(User, admin.id), User)


def test_list_sorts_exports_csv_and_hides_scoped_filters(db, client, make_user, make_institution, login_as,
                                                         client_for):
    bank = make_institution(name="Bank Satu")
    admin = make_user(Role.SUPERADMIN, email="boss@example.com", display_name="Zed")
    make_user(Role.CUSTOMER, email="ayu@example.com", display_name="=cmd()", institution=bank)
    login_as(admin)
    assert emails_on(client.get("/users?sort=name&order=asc")) == ["ayu@example.com", "boss@example.com"]
    assert emails_on(client.get("/users?sort=email&order=desc")) == ["boss@example.com", "ayu@example.com"]
    page = client.get("/users?role=nobody")
    assert page.status_code == 200 and 'data-testid="filter-error"' in page.get_data(as_text=True)
    export = client.get("/users?format=csv&role=customer", buffered=True)
    assert export.mimetype == "text/csv"
    lines = export.get_data(as_text=True).splitlines()
    assert lines[0].startswith("id,email,display_name,role,institution") and len(lines) == 2
    assert "ayu@example.com,'=cmd()" in lines[1]  # the shared CSV-injection guard
    html = client_for(make_user(Role.INSTITUTION_ADMIN, institution=bank)).get("/users").get_data(as_text=True)
    assert 'name="two_factor"' in html and 'name="role"' not in html and 'name="institution"' not in html


def test_a_customer_account_is_linked_to_its_customer_record(db, client, forms, make_user, make_institution,
                                                             make_customer, login_as):
    from app.consent import services as consent

    bank, other = make_institution(), make_institution()
    boss = make_user(Role.ADMIN)
    account = make_user(Role.CUSTOMER, institution=bank, email="ayu.app@example.com")
    record = make_customer(institution=bank, full_name="Ayu Lestari", email="ayu@contoh.co.id")
    elsewhere = make_customer(institution=other, email="elsewhere@contoh.co.id")
    login_as(boss)
    url = f"/users/{account.id}/edit"
    assert 'name="customer"' in client.get(url).get_data(as_text=True)

    for ref, message in ((str(elsewhere.id), "No customer of this institution has this number or e-mail address."),
                         ("nobody@contoh.co.id", "No customer of this institution has this number or e-mail address."),
                         ("99999999999999999999", "No customer of this institution")):
        refused = forms.post(url, edit_form(account, customer=ref), page=url)
        assert refused.status_code == 400 and message in refused.get_data(as_text=True), ref
        db.session.refresh(account)
        assert account.customer_id is None

    saved = forms.post(url, edit_form(account, customer="AYU@contoh.co.id"), page=url)  # the e-mail, any case
    assert saved.status_code == 302
    db.session.refresh(account)
    assert account.customer_id == record.id
    assert consent.subject_of_user(account) == ("customer", record.id)  # the account acts for the record
    assert "Ayu Lestari" in client.get(f"/users/{account.id}").get_data(as_text=True)
    assert f'value="{record.id}"' in client.get(url).get_data(as_text=True)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "USER_UPDATE")
                               .order_by(AuditLog.id.desc())).first()
    assert entry.changes["customer_id"] == {"before": None, "after": record.id}

    second = make_user(Role.CUSTOMER, institution=bank)
    taken = forms.post(f"/users/{second.id}/edit", edit_form(second, customer=str(record.id)),
                       page=f"/users/{second.id}/edit")
    assert "already linked to another account" in taken.get_data(as_text=True)

    # Another edit that does not name the record keeps it; a role without a customer drops it.
    administration.update_user(Actor.for_user(boss), account, display_name="Ayu", role=Role.CUSTOMER,
                               institution_id=bank.id, expected_version=account.version)
    assert account.customer_id == record.id
    assert forms.post(url, edit_form(account, customer=""), page=url).status_code == 302
    db.session.refresh(account)
    assert account.customer_id is None
