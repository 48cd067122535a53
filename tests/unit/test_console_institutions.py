"""Institutions: list, create, edit (stale edits refused), deactivate with confirmation, admins."""

from sqlalchemy import select, text

from app.audit.models import AuditLog
from app.platform.models import Institution
from app.users.models import Role, User


def entries(db, action):
    return db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()


def test_list_search_sort_and_export(db, make_user, make_institution, staff):
    make_institution(name="Bank Nusantara", code="NUS01")
    make_institution(name="Koperasi Amanah", code="AMN01")
    forms = staff(make_user(Role.ADMIN))
    page = forms.client.get("/institutions").get_data(as_text=True)
    assert page.index("Bank Nusantara") < page.index("Koperasi Amanah")  # by name
    by_code = forms.client.get("/institutions?sort=code&order=asc").get_data(as_text=True)
    assert by_code.index("AMN01") < by_code.index("NUS01") and 'aria-sort="ascending"' in by_code
    found = forms.client.get("/institutions?q=amanah").get_data(as_text=True)
    assert "Koperasi Amanah" in found and "Bank Nusantara" not in found
    csv = forms.client.get("/institutions?q=nus&format=csv", buffered=True)  # a streamed response
    assert csv.mimetype == "text/csv" and "attachment" in csv.headers["Content-Disposition"]
    assert csv.get_data(as_text=True).splitlines() == [
        "code,name,active,created_at", *[line for line in csv.get_data(as_text=True).splitlines()[1:]]]
    assert "NUS01,Bank Nusantara,yes," in csv.get_data(as_text=True) and "AMN01" not in csv.get_data(as_text=True)
    empty = forms.client.get("/institutions?q=nothing-like-this").get_data(as_text=True)
    assert "Nothing matches these filters." in empty and "Clear the filters" in empty


def test_empty_list_says_what_to_do(db, make_user, staff):
    page = staff(make_user(Role.SUPERADMIN)).client.get("/institutions").get_data(as_text=True)
    assert "No institutions yet." in page and "/institutions/new" in page


def test_create_validates_and_audits(db, make_user, make_institution, staff):
    make_institution(name="Bank Satu", code="BANK01")
    forms = staff(make_user(Role.ADMIN))
    bad = forms.post("/institutions/new", {"code": "bank 01!", "name": "X"})
    assert bad.status_code == 400 and "Use 2 to 20 capital letters" in bad.get_data(as_text=True)
    taken = forms.post("/institutions/new", {"code": "bank01", "name": "Other"})
    assert "Another institution already uses the code BANK01." in taken.get_data(as_text=True)
    same_name = forms.post("/institutions/new", {"code": "BANK09", "name": "bank  satu"})
    assert "Another institution already has this name." in same_name.get_data(as_text=True)
    short = forms.post("/institutions/new", {"code": "BANK09", "name": "B"})
    assert "Use between 2 and 200 characters." in short.get_data(as_text=True)
    assert db.session.scalar(select(Institution.id).where(Institution.code == "BANK09")) is None
    done = forms.post("/institutions/new", {"code": "bpr-07", "name": "  BPR   Tujuh "})
    assert done.status_code == 302
    created = db.session.scalars(select(Institution).where(Institution.code == "BPR-07")).one()
    assert created.name == "BPR Tujuh"
    (entry,) = entries(db, "INSTITUTION_CREATE")
    assert entry.changes["code"] == {"before": None, "after": "BPR-07"} and entry.institution_id == created.id


def test_edit_is_audited_and_stale_edits_are_refused(db, make_user, make_institution, staff):
    institution = make_institution(name="Bank Tiga", code="BANK03")
    forms = staff(make_user(Role.ADMIN, email="editor@example.com"))
    page = f"/institutions/{institution.id}/edit"
    assert forms.post(page, {"code": "BANK03", "name": "Bank Tiga", "version": 1}).status_code == 302
    assert "Nothing changed." in forms.client.get(f"/institutions/{institution.id}").get_data(as_text=True)
    assert forms.post(page, {"code": "BANK03", "name": "Bank Tiga Baru", "version": 1}).status_code == 302
    (entry,) = entries(db, "INSTITUTION_UPDATE")
    assert entry.changes == {"name": {"before": "Bank Tiga", "after": "Bank Tiga Baru"}}
    stale = forms.post(page, {"code": "BANK03", "name": "Someone else's idea", "version": 1})
    body = stale.get_data(as_text=True)
    assert stale.status_code == 409 and "editor@example.com changed this at" in body and "Nothing was saved" in body
    assert 'value="Bank Tiga Baru"' in body  # the form now shows the current values
    db.session.expire_all()
    assert db.session.get(Institution, institution.id).name == "Bank Tiga Baru"
    invalid = forms.post(page, {"code": "", "name": "x", "version": 2})
    assert invalid.status_code == 400


def test_deactivation_lists_what_is_affected_and_needs_step_up(db, make_user, make_institution, make_customer,
                                                              make_transaction, make_approval, staff, step_up):
    institution = make_institution(name="Bank Empat", code="BANK04")
    customer = make_customer(institution=institution)
    make_transaction(customer=customer)
    make_approval(institution=institution)
    make_user(Role.INSTITUTION_ADMIN, institution=institution, email="ia4@example.com")
    forms = staff(make_user(Role.ADMIN))
    url = f"/institutions/{institution.id}/deactivate"
    assert forms.client.get(url).headers["Location"].startswith("/step-up")
    step_up(forms)
    page = forms.client.get(url).get_data(as_text=True)
    assert "Deactivate Bank Empat?" in page
    for text_ in ("1 active customer stays registered", "1 pending transaction still waits",
                  "1 pending approval request still waits", "ia4@example.com"):
        assert text_ in page
    assert forms.post(url, {"version": institution.version}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Institution, institution.id).is_active is False
    (entry,) = entries(db, "INSTITUTION_UPDATE")
    assert entry.changes == {"is_active": {"before": True, "after": False}}
    assert "already inactive" in forms.client.get(url).get_data(as_text=True)
    stale = forms.post(url, {"version": 1})
    assert stale.status_code == 302
    again = forms.post(f"/institutions/{institution.id}/reactivate", {"version": 2},
                       page=f"/institutions/{institution.id}")
    assert again.status_code == 302
    db.session.expire_all()
    assert db.session.get(Institution, institution.id).is_active is True
    stale_reactivate = forms.post(f"/institutions/{institution.id}/reactivate", {"version": 1},
                                  page=f"/institutions/{institution.id}")
    assert stale_reactivate.status_code == 302
    assert len(entries(db, "INSTITUTION_UPDATE")) == 2


def test_assign_and_remove_institution_admins(db, app, make_user, make_institution, staff, step_up, client_for):
    home, other = make_institution(name="Bank Lima", code="BANK05"), make_institution(name="Bank Enam", code="BANK06")
    mover = make_user(Role.INSTITUTION_ADMIN, institution=other, email="mover@example.com")
    forms = staff(make_user(Role.ADMIN))
    step_up(forms)
    detail = f"/institutions/{home.id}"
    assert "No institution admins yet." in forms.client.get(detail).get_data(as_text=True)
    for email, message in [("nobody@example.com", "No account uses this e-mail address."),
                           (make_user(Role.ADMIN).email, "only institution admin accounts can be assigned"),
                           ("", "Enter an e-mail address.")]:
        refused = forms.post(f"{detail}/admins", {"email": email}, page=detail)
        assert refused.status_code == 400 and message in refused.get_data(as_text=True), message
    assert forms.post(f"{detail}/admins", {"email": "MOVER@example.com"}, page=detail).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, mover.id).institution_id == home.id
    (entry,) = entries(db, "INSTITUTION_ADMIN_ASSIGN")
    assert entry.changes == {"institution_id": {"before": other.id, "after": home.id}}
    assert entry.institution_id == home.id and entry.resource_id == str(mover.id)
    twice = forms.post(f"{detail}/admins", {"email": "mover@example.com"}, page=detail)
    assert "already an admin of this institution" in twice.get_data(as_text=True)

    mover_client = client_for(db.session.get(User, mover.id))
    assert mover_client.get("/dashboard").status_code == 200
    remove = f"{detail}/admins/{mover.id}/remove"
    confirm = forms.client.get(remove).get_data(as_text=True)
    assert "Remove mover@example.com as admin of Bank Lima?" in confirm and "deactivated" in confirm
    assert forms.post(remove, {}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, mover.id).is_active_account is False
    (removal,) = entries(db, "INSTITUTION_ADMIN_REMOVE")
    assert removal.changes == {"is_active_account": {"before": True, "after": False}}
    assert mover_client.get("/dashboard").status_code == 302  # signed out everywhere
    listed = forms.client.get(detail).get_data(as_text=True)
    assert "mover@example.com" in listed and "Removed" in listed and remove not in listed
    again = forms.post(remove, {})
    assert again.status_code == 302
    assert "mover@example.com is already removed." in forms.client.get(detail).get_data(as_text=True)
    refused = forms.post(f"{detail}/admins", {"email": "mover@example.com"}, page=detail)
    assert "is deactivated. Reactivate the account first." in refused.get_data(as_text=True)
    assert forms.client.get(f"/institutions/{other.id}/admins/{mover.id}/remove").status_code == 404


def test_no_admin_assignment_into_an_inactive_institution(db, make_user, make_institution, staff, step_up):
    home = make_institution()
    db.session.execute(text("UPDATE institutions SET is_active = false WHERE id = :id"), {"id": home.id})
    mover = make_user(Role.INSTITUTION_ADMIN)
    forms = staff(make_user(Role.SUPERADMIN))
    step_up(forms)
    refused = forms.post(f"/institutions/{home.id}/admins", {"email": mover.email}, page=f"/institutions/{home.id}")
    assert "This institution is deactivated." in refused.get_data(as_text=True)
