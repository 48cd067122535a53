"""A customer's consent through the API: the staff consent page's rules (customer managers within
their institution), write tokens to record, the consent service's audit entry, and bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.api.consents import HISTORY_FILTERS
from app.api.openapi import PATHS
from app.api.params import filter_parameters
from app.audit.models import AuditLog
from app.consent import notices
from app.consent import services as consent
from app.consent.lists import HISTORY
from app.consent.models import ConsentEvent, ConsentSource
from app.security.actor import Actor
from app.users.models import Role
from tests.conftest import bearer

SYSTEM = Actor.system("test")


def publish(purpose="notifications", material=False, text="Mail me about my payments."):
    return notices.publish(SYSTEM, purpose, text_en=text, text_id=f"[id] {text}", material=material)





def events(db) -> int:
    return db.session.scalar(select(func.count()).select_from(ConsentEvent))


def test_customer_managers_read_consent_within_their_scope(app, db, make_user, make_customer, make_institution,
                                                           make_token):
    mine, theirs = make_institution(), make_institution()
    customer, other = make_customer(mine), make_customer(theirs)
    publish()
    consent.record(SYSTEM, ("customer", customer.id), "notifications", granted=True, source=ConsentSource.STAFF,
                   notice_version=1, evidence="paper form at the branch")
    db.session.commit()
    client = app.test_client()
    local = make_token(make_user(Role.INSTITUTION_ADMIN, institution=mine))
    body = client.get(f"/api/v1/customers/{customer.id}/consents", headers=bearer(local)).get_json()
    choices = {c["purpose"]: c for c in body["choices"]}
    assert body["customer_id"] == customer.id and choices["notifications"]["granted"] is True
    assert choices["notifications"]["notice_version"] == 1 and choices["analytics"]["notice_version"] is None
    assert [(e["action"], e["source"], e["evidence"], e["counts_now"]) for e in body["history"]] == [
        ("grant", "staff", "paper form at the branch", True)]
    assert choices["notifications"]["decided_by_event_id"] == body["history"][0]["id"]
    assert client.get(f"/api/v1/customers/{customer.id}/consents?purpose=analytics",
                      headers=bearer(local)).get_json()["history"] == []
    assert client.get(f"/api/v1/customers/{other.id}/consents", headers=bearer(local)).status_code == 404
    assert client.get(f"/api/v1/customers/{other.id}/consents",
                      headers=bearer(make_token(make_user(Role.ADMIN)))).status_code == 200
    refused = client.get(f"/api/v1/customers/{customer.id}/consents",
                         headers=bearer(make_token(make_user(Role.PRIVACY_OFFICER))))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    for query, field in (("purpose=marketing", "purpose"), ("limit=0", "limit"), ("cursor=abc", "cursor")):
        response = client.get(f"/api/v1/customers/{customer.id}/consents?{query}", headers=bearer(local))
        assert response.status_code == 400 and set(response.get_json()["error"]["fields"]) == {field}
    for missing in (987654, 2**31):
        assert client.get(f"/api/v1/customers/{missing}/consents", headers=bearer(local)).status_code == 404


def test_the_openapi_document_describes_the_history_filter():
    documented = {p["name"] for p in PATHS["/customers/{customer_id}/consents"]["get"]["parameters"]
                  if p["name"] not in ("limit", "cursor")}
    assert documented == set(filter_parameters(HISTORY, HISTORY_FILTERS))


def test_an_app_records_a_choice_audited_like_the_staff_page(app, db, make_user, make_customer, make_token):
    customer = make_customer()
    publish()
    db.session.commit()
    client = app.test_client()
    staff_user = make_user(Role.INSTITUTION_ADMIN, institution=customer.institution)
    url = f"/api/v1/customers/{customer.id}/consents"
    read_only = client.post(url, json={"purpose": "notifications", "granted": True, "notice_version": 1},
                            headers=bearer(make_token(staff_user)))
    assert read_only.status_code == 403 and read_only.get_json()["error"]["code"] == "insufficient_scope"
    plain = make_token(staff_user, "write")
    given = client.post(url, json={"purpose": "notifications", "granted": True, "notice_version": 1,
                                   "evidence": "mobile app, settings screen"}, headers=bearer(plain))
    assert given.status_code == 201, given.get_json()
    body = given.get_json()
    assert body["recorded"] is True and body["choice"]["granted"] is True
    assert (body["event"]["source"], body["event"]["recorded_by_id"], body["event"]["counts_now"]) == (
        "api", staff_user.id, True)
    db.session.expire_all()
    assert consent.allows(("customer", customer.id), "notifications")
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "CONSENT_GRANT")).one()
    assert (entry.actor_id, entry.resource_type, entry.resource_id) == (staff_user.id, "customer", str(customer.id))
    assert entry.institution_id == customer.institution_id and "(api; evidence recorded)" in entry.description
    again = client.post(url, json={"purpose": "notifications", "granted": True, "notice_version": 1},
                        headers=bearer(plain))
    assert again.status_code == 200 and again.get_json() == {**again.get_json(), "recorded": False, "event": None}
    withdrawn = client.post(url, json={"purpose": "notifications", "granted": False}, headers=bearer(plain))
    assert withdrawn.status_code == 201 and withdrawn.get_json()["choice"]["granted"] is False
    db.session.expire_all()
    assert not consent.allows(("customer", customer.id), "notifications")
    assert [e.action for e in db.session.scalars(select(AuditLog).where(AuditLog.action.like("CONSENT_%"))
                                                 .where(AuditLog.resource_type == "customer"))] == [
        "CONSENT_GRANT", "CONSENT_WITHDRAW"]
    listed = client.get(url, headers=bearer(plain)).get_json()["history"]
    assert [(e["action"], e["source"]) for e in listed] == [("withdraw", "api"), ("grant", "api")]  # newest first


def test_recording_follows_the_staff_rule_and_institution_scope(app, db, make_user, make_customer,
                                                                make_institution, make_token):
    customer = make_customer()
    publish()
    db.session.commit()
    client = app.test_client()
    body = {"purpose": "notifications", "granted": True, "notice_version": 1}
    url = f"/api/v1/customers/{customer.id}/consents"
    elsewhere = make_token(make_user(Role.INSTITUTION_ADMIN, institution=make_institution()), "write")
    assert client.post(url, json=body, headers=bearer(elsewhere)).get_json()["error"]["code"] == "not_found"
    officer = make_token(make_user(Role.PRIVACY_OFFICER), "write")
    assert client.post(url, json=body, headers=bearer(officer)).get_json()["error"]["code"] == "forbidden"
    assert client.post("/api/v1/customers/987654/consents", json=body,
                       headers=bearer(make_token(make_user(Role.ADMIN), "write"))).status_code == 404
    assert events(db) == 0
    # The service itself keeps the rule: a source of "api" never lets someone without the staff
    # permission record for a customer.
    with pytest.raises(consent.NotVisible):
        consent.record(Actor.for_user(make_user(Role.PRIVACY_OFFICER)), ("customer", customer.id), "notifications",
                       granted=True, source=ConsentSource.API, notice_version=1)


def test_a_newer_notice_refuses_the_grant_and_nothing_is_recorded(app, db, make_user, make_customer, make_token):
    customer = make_customer()
    publish()
    publish(material=True, text="Mail me about my payments and offers.")
    db.session.commit()
    client = app.test_client()
    plain = make_token(make_user(Role.ADMIN), "write")
    url = f"/api/v1/customers/{customer.id}/consents"
    stale = client.post(url, json={"purpose": "notifications", "granted": True, "notice_version": 1},
                        headers=bearer(plain))
    error = stale.get_json()["error"]
    assert stale.status_code == 409 and error["code"] == "notice_changed" and error["notice_version"] == 2
    assert events(db) == 0
    unpublished = client.post(url, json={"purpose": "analytics", "granted": False}, headers=bearer(plain))
    assert unpublished.status_code == 422 and unpublished.get_json()["error"]["code"] == "consent_refused"
    assert client.post(url, json={"purpose": "notifications", "granted": True, "notice_version": 2},
                       headers=bearer(plain)).status_code == 201


@pytest.mark.parametrize("body, field", [
    ({"purpose": "marketing", "granted": True, "notice_version": 1}, "purpose"),
    ({"granted": True, "notice_version": 1}, "purpose"),
    ({"purpose": "notifications", "granted": "yes", "notice_version": 1}, "granted"),
    ({"purpose": "notifications", "notice_version": 1}, "granted"),
    ({"purpose": "notifications", "granted": True}, "notice_version"),
    ({"purpose": "notifications", "granted": True, "notice_version": 0}, "notice_version"),
    ({"purpose": "notifications", "granted": True, "notice_version": "1"}, "notice_version"),
    ({"purpose": "notifications", "granted": True, "notice_version": True}, "notice_version"),
    ({"purpose": "notifications", "granted": True, "notice_version": 2**31}, "notice_version"),
    ({"purpose": "notifications", "granted": False, "evidence": 5}, "evidence"),
    ({"purpose": "notifications", "granted": False, "evidence": "x" * 301}, "evidence"),
    ({"purpose": "notifications", "granted": False, "evidence": "two\nlines"}, "evidence"),
    ({"purpose": "notifications", "granted": False, "source": "staff"}, "source"),
])
def test_bad_input_is_a_validation_error_naming_the_field(app, db, make_user, make_customer, make_token, body, field):
    customer = make_customer()
    publish()
    db.session.commit()
    response = app.test_client().post(f"/api/v1/customers/{customer.id}/consents", json=body,
                                      headers=bearer(make_token(make_user(Role.ADMIN), "write")))
    error = response.get_json()["error"]
    assert response.status_code == 400 and error["code"] == "validation_error" and set(error["fields"]) == {field}
    assert events(db) == 0


def test_a_body_that_is_not_a_json_object_is_refused(app, db, make_user, make_customer, make_token):
    customer = make_customer()
    plain = make_token(make_user(Role.ADMIN), "write")
    client = app.test_client()
    for data in ("[1, 2]", "not json", ""):
        response = client.post(f"/api/v1/customers/{customer.id}/consents", data=data,
                               headers={**bearer(plain), "Content-Type": "application/json"})
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error", data
