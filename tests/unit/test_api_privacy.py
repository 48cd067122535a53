"""Data-subject requests through the API: who may read them, the list page's filters, and
pseudonymity (the subject by type and id, never a name, an address or free text)."""

from __future__ import annotations

import json
from datetime import timedelta

from app.api import tokens
from app.api.openapi import PATHS
from app.api.params import filter_parameters
from app.api.privacy import REQUEST_FILTERS
from app.database import utcnow
from app.privacy import lists as privacy_lists
from app.privacy import services as privacy
from app.privacy import verification
from app.security.actor import Actor
from app.users.models import Role
from tests.conftest import bearer

SYSTEM = Actor.system("test")





def register(customer, kind="access", jurisdiction="gdpr", received_at=None, details="Please show me my data."):
    return privacy.register_request(SYSTEM, subject_type="customer", subject_id=customer.id, kind=kind,
                                    channel="email", jurisdiction=jurisdiction,
                                    received_at=received_at or utcnow(), details=details)


def test_privacy_officers_and_superadmins_read_requests_and_other_roles_cannot(app, db, make_user, make_customer,
                                                                               make_token):
    req = register(make_customer())
    db.session.commit()
    client = app.test_client()
    officer = make_token(make_user(Role.PRIVACY_OFFICER))
    for plain in (officer, make_token(make_user(Role.SUPERADMIN))):
        listed = client.get("/api/v1/privacy/requests?limit=200", headers=bearer(plain))
        assert listed.status_code == 200 and req.id in [r["id"] for r in listed.get_json()["data"]]
        assert client.get(f"/api/v1/privacy/requests/{req.id}", headers=bearer(plain)).status_code == 200
    for role in (Role.ADMIN, Role.INSTITUTION_ADMIN):
        plain = make_token(make_user(role))
        for url in ("/api/v1/privacy/requests", f"/api/v1/privacy/requests/{req.id}"):
            refused = client.get(url, headers=bearer(plain))
            assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden", (role, url)
    # The officer's token reaches the requests (and the audit log), not the operations lists.
    assert client.get("/api/v1/transactions", headers=bearer(officer)).status_code == 403
    assert client.get("/api/v1/audit-logs", headers=bearer(officer)).status_code == 200
    assert client.get("/api/v1/privacy/requests").get_json()["error"]["code"] == "token_missing"


def test_privacy_officers_make_their_own_tokens_on_the_api_page(db, make_user, staff, step_up):
    officer = make_user(Role.PRIVACY_OFFICER)
    forms = staff(officer)
    page = forms.client.get("/account/api-tokens")
    assert page.status_code == 200
    step_up(forms)
    made = forms.post("/account/api-tokens", {"name": "DSR tracker", "scope": "read", "days": "30"},
                      page="/account/api-tokens")
    assert made.status_code == 201 and tokens.tokens_of(officer)[0].name == "DSR tracker"


def test_the_list_filters_by_the_list_pages_declaration(app, db, make_user, make_customer, make_token):
    customer = make_customer()
    access = register(customer, received_at=utcnow() - timedelta(days=2))
    erasure = register(customer, kind="erasure", jurisdiction="uu_pdp", received_at=utcnow() - timedelta(days=5))
    refused = register(customer, kind="erasure")
    privacy.refuse_request(SYSTEM, refused, "identity_not_verified", "No answer to the link")
    db.session.commit()
    client = app.test_client()
    plain = make_token(make_user(Role.PRIVACY_OFFICER))

    def listed(**query) -> list[int]:
        response = client.get("/api/v1/privacy/requests", headers=bearer(plain), query_string={"limit": 200, **query})
        assert response.status_code == 200, response.get_json()
        return [r["id"] for r in response.get_json()["data"]]

    assert listed() == [refused.id, erasure.id, access.id]  # newest first, every status
    assert listed(status="open") == [erasure.id, access.id]
    assert listed(status="refused") == [refused.id]
    assert listed(kind="erasure") == [refused.id, erasure.id]
    assert listed(jurisdiction="uu_pdp") == [erasure.id]
    assert listed(deadline="overdue") == [erasure.id]  # UU PDP: 3 x 24 hours, received five days ago
    assert listed(deadline="on_time") == [access.id]
    cut = (access.due_at - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert set(listed(due_after=cut)) == {access.id, refused.id}
    assert listed(due_before=cut) == [erasure.id]
    first = client.get("/api/v1/privacy/requests?limit=1", headers=bearer(plain)).get_json()
    second = client.get("/api/v1/privacy/requests", headers=bearer(plain),
                        query_string={"limit": 1, "cursor": first["next_cursor"]}).get_json()
    assert [r["id"] for r in first["data"] + second["data"]] == [refused.id, erasure.id]
    for query, field in (("status=lost", "status"), ("kind=", "kind"), ("jurisdiction=us", "jurisdiction"),
                         ("deadline=later", "deadline"), ("due_after=tomorrow", "due_after"),
                         ("due_before=2026-01-31", "due_before"), ("limit=0", "limit"), ("cursor=abc", "cursor")):
        response = client.get(f"/api/v1/privacy/requests?{query}", headers=bearer(plain))
        error = response.get_json()["error"]
        assert response.status_code == 400 and error["code"] == "validation_error" and set(error["fields"]) == {field}


def test_the_openapi_document_describes_exactly_what_the_list_reads():
    documented = {p["name"]: p["schema"] for p in PATHS["/privacy/requests"]["get"]["parameters"]
                  if p["name"] not in ("limit", "cursor")}
    assert set(documented) == set(filter_parameters(privacy_lists.REQUESTS, REQUEST_FILTERS))
    for param, name in REQUEST_FILTERS.items():
        if name != "due":
            choices = privacy_lists.REQUESTS.filter(name).choices
            assert documented[param]["enum"] == [value for value, _label in choices], param


def test_requests_are_pseudonymous_with_their_timeline(app, db, make_user, make_customer, make_token):
    customer = make_customer(full_name="Siti Rahmawati Unique", email="siti.unique@example.com")
    req = register(customer, details="I am Siti Rahmawati Unique, erase siti.unique@example.com")
    officer = make_user(Role.PRIVACY_OFFICER, email="officer.unique@example.com")
    verification.record_manual_check(Actor.for_user(officer), req, "id_document", "KTP of Siti Rahmawati seen")
    db.session.commit()
    client = app.test_client()
    plain = make_token(make_user(Role.SUPERADMIN))
    detail = client.get(f"/api/v1/privacy/requests/{req.id}", headers=bearer(plain))
    listed = client.get("/api/v1/privacy/requests?limit=200", headers=bearer(plain))
    body = detail.get_json()
    assert body["reference"] == req.reference and (body["subject_type"], body["subject_id"]) == ("customer",
                                                                                                   customer.id)
    assert body["status"] == "verified" and body["verification_method"] == "id_document" and body["overdue"] is False
    assert [(e["kind"], e["by"]) for e in body["events"]] == [("registered", "system"), ("verified", "staff")]
    assert body["events"][1]["actor_id"] == officer.id
    for text in (detail.get_data(as_text=True), listed.get_data(as_text=True)):
        for personal in ("Siti", "Rahmawati", "siti.unique", "officer.unique", "KTP", "erase"):
            assert personal not in text, personal
    assert set(body) - {"events"} == set(json.loads(listed.get_data())["data"][0])
    for missing in (987654, 2**31, 2**40):
        response = client.get(f"/api/v1/privacy/requests/{missing}", headers=bearer(plain))
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
