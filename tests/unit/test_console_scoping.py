"""Institution admins reach only their own institution's rows, by id too (404, not just hidden links).

Every platform route with a row id in its URL is walked, for every method, with the ids of
another institution's rows (404, or 403 where the role lacks the permission altogether)
and with the ids of the admin's own rows (neither 403 nor 404).
"""

import pytest
from sqlalchemy import select

from app.platform.models import Approval, CustomerImport, Transaction
from app.security.access import has_permission
from app.users.models import Role

POST_DATA = {"approve": "Approve", "reason": "checked", "code": "ZZ01", "name": "Renamed", "full_name": "Renamed",
             "email": "renamed@example.com", "sha256": "0" * 64}


@pytest.fixture
def world(db, make_institution, make_customer, make_transaction, make_approval, make_user):
    """Two institutions, each with a customer, a transaction, an approval, an admin and an upload."""
    rows = {}
    for name in ("own", "other"):
        institution = make_institution()
        customer = make_customer(institution=institution)
        admin = make_user(Role.INSTITUTION_ADMIN, institution=institution)
        upload = CustomerImport(uploaded_by_id=admin.id, institution_id=institution.id, filename="x.csv",
                                file_format="csv", file_sha256="0" * 64, size_bytes=1, content=b"x")
        db.session.add(upload)
        db.session.flush()
        rows[name] = {"institution_id": institution.id, "customer_id": customer.id,
                      "transaction_id": make_transaction(customer=customer).id,
                      "approval_id": make_approval(institution=institution).id,
                      "user_id": admin.id, "import_id": upload.id, "admin": admin}
    db.session.commit()
    return rows


def object_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("platform.") and rule.arguments:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def permitted(app, user, endpoint) -> bool:
    rule = app.view_functions[endpoint].__access_rule__
    return all(has_permission(user, p) for p in rule.permissions)


def request(forms, rule, method, args):
    url = rule.build({a: args[a] for a in rule.arguments})[1]
    if method == "GET":
        return url, forms.client.get(url)
    return url, forms.post(url, POST_DATA, page="/dashboard")


def test_other_institutions_rows_are_not_found(app, world, staff, step_up):
    admin = world["own"]["admin"]
    forms = staff(admin)
    step_up(forms)
    problems, walked = [], set()
    for rule, method in object_routes(app):
        walked.add(rule.endpoint)
        url, response = request(forms, rule, method, world["other"])
        expected = 404 if permitted(app, admin, rule.endpoint) else 403
        if response.status_code != expected:
            problems.append(f"{method} {url} ({rule.endpoint}): {response.status_code}, expected {expected}")
    assert not problems, "\n".join(problems)
    assert {"platform.transaction_decide", "platform.approval_decide", "platform.customer_update",
            "platform.customer_import_confirm", "platform.institution_detail"} <= walked


def test_own_rows_are_reachable(app, world, staff, step_up):
    admin = world["own"]["admin"]
    forms = staff(admin)
    step_up(forms)
    problems = []
    for rule, method in object_routes(app):
        if not permitted(app, admin, rule.endpoint):
            continue
        url, response = request(forms, rule, method, world["own"])
        if response.status_code in (403, 404) or response.status_code >= 500:
            problems.append(f"{method} {url} ({rule.endpoint}): {response.status_code}")
    assert not problems, "\n".join(problems)


def test_bulk_approval_of_another_institutions_request_is_not_found(db, world, staff):
    forms = staff(world["own"]["admin"])
    other = world["other"]["approval_id"]
    assert forms.client.get(f"/approvals/bulk-approve?id={other}").status_code == 404
    mixed = forms.post("/approvals/bulk-approve", {"item": [f"{world['own']['approval_id']}:1", f"{other}:1"]},
                       page="/approvals")
    assert mixed.status_code == 404
    assert set(db.session.scalars(select(Approval.status))) == {"pending"}


def test_lists_and_exports_stay_within_the_institution(db, world, staff):
    forms = staff(world["own"]["admin"])
    other_institution = world["other"]["institution_id"]
    other_reference = db.session.get(Transaction, world["other"]["transaction_id"]).reference
    own_reference = db.session.get(Transaction, world["own"]["transaction_id"]).reference
    page = forms.client.get(f"/transactions?institution={other_institution}").get_data(as_text=True)
    assert other_reference not in page and "Nothing matches these filters." in page
    export = forms.client.get("/transactions?format=csv", buffered=True).get_data(as_text=True)
    assert own_reference in export and other_reference not in export
    institutions = forms.client.get("/institutions").get_data(as_text=True)
    assert f"/institutions/{world['own']['institution_id']}" in institutions
    assert f"/institutions/{other_institution}\"" not in institutions
    options = forms.client.get("/customers").get_data(as_text=True)
    assert f'<option value="{other_institution}"' not in options
