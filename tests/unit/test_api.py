"""The JSON API: personal tokens (page, storage, audit) and the endpoints behind them."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.api import tokens
from app.api.models import ApiToken
from app.api.openapi import PATHS, PREFIX
from app.audit.models import AuditLog
from app.database import utcnow
from app.security.actor import Actor
from app.users.models import Role
from tests.conftest import bearer


def test_token_page_makes_a_token_once_stores_its_hash_and_audits(db, make_user, staff, step_up):
    user = make_user(Role.ADMIN)
    forms = staff(user)
    step_up(forms)
    response = forms.post("/account/api-tokens", {"name": "SIEM export", "scope": "read", "days": "30"},
                          page="/account/api-tokens")
    assert response.status_code == 201
    plain = re.search(r'value="(sat_[^"]+)"', response.get_data(as_text=True)).group(1)
    stored = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert stored.token_hash == hashlib.sha256(plain.encode()).hexdigest() and plain not in stored.token_hash
    assert stored.prefix == plain[:12] and stored.scope == "read"
    assert timedelta(days=29) < stored.expires_at - utcnow() <= timedelta(days=30)
    listing = forms.client.get("/account/api-tokens").get_data(as_text=True)
    assert plain not in listing and stored.prefix in listing and "SIEM export" in listing
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "API_TOKEN_CREATE")).one()
    assert plain not in str(entry.changes) and plain not in entry.description and entry.actor_id == user.id
    assert forms.client.get("/api/v1/me").status_code == 401  # the session does not authenticate the API
    me = forms.client.get("/api/v1/me", headers=bearer(plain))
    assert me.status_code == 200 and me.get_json()["user"]["email"] == user.email


def test_making_a_token_needs_a_recent_step_up(make_user, staff):
    forms = staff(make_user(Role.ADMIN))
    response = forms.post("/account/api-tokens", {"name": "x", "scope": "read", "days": "30"},
                          page="/account/api-tokens")
    assert response.status_code == 302 and response.headers["Location"].startswith("/step-up")


def test_bad_token_form_input_changes_nothing(db, make_user, staff, step_up):
    user = make_user(Role.ADMIN)
    forms = staff(user)
    step_up(forms)
    for data in ({"name": "", "scope": "read", "days": "30"}, {"name": "x", "scope": "admin", "days": "30"},
                 {"name": "x", "scope": "read", "days": "3"}):
        assert forms.post("/account/api-tokens", data, page="/account/api-tokens").status_code == 400
    assert tokens.tokens_of(user) == []


def test_revoking_stops_the_token_at_once_and_is_audited(db, make_user, staff, make_token):
    user = make_user(Role.ADMIN)
    plain = make_token(user)
    forms = staff(user)
    assert forms.client.get("/api/v1/me", headers=bearer(plain)).status_code == 200
    token = tokens.tokens_of(user)[0]
    response = forms.post(f"/account/api-tokens/{token.id}/revoke", page="/account/api-tokens")
    assert response.status_code == 302
    refused = forms.client.get("/api/v1/me", headers=bearer(plain))
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "invalid_token"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert db.session.scalars(select(AuditLog).where(AuditLog.action == "API_TOKEN_REVOKE")).one().actor_id == user.id
    other = staff(make_user(Role.ADMIN))
    assert other.post(f"/account/api-tokens/{token.id}/revoke", page="/account/api-tokens").status_code == 404


def test_superadmins_manage_other_peoples_tokens_and_admins_cannot(db, make_user, staff, step_up, make_token):
    target = make_user(Role.INSTITUTION_ADMIN)
    superadmin = staff(make_user(Role.SUPERADMIN))
    step_up(superadmin)
    created = superadmin.post(f"/users/{target.id}/api-tokens", {"name": "bot", "scope": "write", "days": "7"},
                              page=f"/users/{target.id}/api-tokens")
    assert created.status_code == 201
    token = tokens.tokens_of(target)[0]
    assert token.created_by_id != target.id and token.scope == "write"
    page = superadmin.client.get(f"/users/{target.id}/api-tokens").get_data(as_text=True)
    assert "bot" in page and "by Superadmin" in page
    assert staff(make_user(Role.ADMIN)).client.get(f"/users/{target.id}/api-tokens").status_code == 403
    revoked = superadmin.post(f"/users/{target.id}/api-tokens/{token.id}/revoke", page=f"/users/{target.id}/api-tokens")
    db.session.expire_all()
    assert revoked.status_code == 302 and db.session.get(ApiToken, token.id).revoked_at is not None
    with pytest.raises(tokens.TokenError):
        tokens.create_token(Actor.for_user(make_user(Role.ADMIN)), target, name="x", scope="read", days=30)


def test_customers_cannot_hold_tokens(db, make_user):
    customer = make_user(Role.CUSTOMER)
    with pytest.raises(tokens.TokenError):
        tokens.create_token(Actor.for_user(customer), customer, name="x", scope="read", days=30)


def test_expired_tokens_and_deactivated_users_are_refused(app, db, make_user, make_token):
    client = app.test_client()
    user = make_user(Role.ADMIN)
    plain = make_token(user)
    token = tokens.tokens_of(user)[0]
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    expired = client.get("/api/v1/me", headers=bearer(plain))
    assert expired.status_code == 401 and expired.get_json()["error"]["code"] == "token_expired"
    other = make_user(Role.ADMIN)
    plain = make_token(other)
    other.is_active_account = False
    db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(plain)).get_json()["error"]["code"] == "invalid_token"
    assert client.get("/api/v1/me").get_json()["error"]["code"] == "token_missing"


def test_guessing_tokens_is_throttled_per_address(app, db):
    client = app.test_client()
    for n in range(20):
        assert client.get("/api/v1/me", headers=bearer(f"sat_guess{n}")).status_code == 401
    refused = client.get("/api/v1/me", headers=bearer("sat_guess-again"))
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_failures"
    assert int(refused.headers["Retry-After"]) > 0


def test_other_peoples_failures_never_lock_out_a_valid_token(app, db, make_user, make_token):
    client = app.test_client()
    plain = make_token(make_user(Role.ADMIN))
    for n in range(25):
        client.get("/api/v1/me", headers=bearer(f"sat_guess{n}"))
    assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 200


def test_last_use_is_recorded_at_most_once_a_minute(app, db, make_user, make_token, staff):
    user = make_user(Role.ADMIN)
    plain = make_token(user)
    client = app.test_client()
    client.get("/api/v1/me", headers=bearer(plain))
    first = tokens.tokens_of(user)[0].last_used_at
    assert first is not None
    client.get("/api/v1/me", headers=bearer(plain))
    db.session.expire_all()
    assert tokens.tokens_of(user)[0].last_used_at == first
    assert "never" not in staff(user).client.get("/account/api-tokens").get_data(as_text=True).split(
        'data-testid="token-last-used"')[1][:80]


def test_reads_are_scoped_like_the_portal(app, db, make_user, make_institution, make_transaction, make_customer,
                                          make_approval, make_token):
    mine, theirs = make_institution(), make_institution()
    own_tx = make_transaction(make_customer(mine))
    other_tx = make_transaction(make_customer(theirs))
    own_approval, other_approval = make_approval(mine), make_approval(theirs)
    db.session.commit()
    plain = make_token(make_user(Role.INSTITUTION_ADMIN, institution=mine))
    client = app.test_client()
    listed = client.get("/api/v1/transactions", headers=bearer(plain)).get_json()
    assert [t["id"] for t in listed["data"]] == [own_tx.id]
    assert client.get(f"/api/v1/transactions/{other_tx.id}", headers=bearer(plain)).status_code == 404
    assert client.get(f"/api/v1/transactions/{own_tx.id}", headers=bearer(plain)).get_json()["reference"] == \
        own_tx.reference
    assert [a["id"] for a in client.get("/api/v1/approvals", headers=bearer(plain)).get_json()["data"]] == \
        [own_approval.id]
    assert client.get(f"/api/v1/approvals/{other_approval.id}", headers=bearer(plain)).status_code == 404
    assert [i["id"] for i in client.get("/api/v1/institutions", headers=bearer(plain)).get_json()["data"]] == [mine.id]
    assert client.get(f"/api/v1/institutions/{theirs.id}", headers=bearer(plain)).status_code == 404
    superadmin = make_token(make_user(Role.SUPERADMIN))
    everything = client.get("/api/v1/transactions?limit=200", headers=bearer(superadmin)).get_json()["data"]
    assert {own_tx.id, other_tx.id} <= {t["id"] for t in everything}


def test_lists_page_with_cursors_and_filter(app, db, make_user, make_transaction, make_token):
    rows = [make_transaction(status="approved" if n % 2 else "pending") for n in range(5)]
    db.session.commit()
    plain = make_token(make_user(Role.SUPERADMIN))
    client = app.test_client()
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/transactions", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})},
                          headers=bearer(plain)).get_json()
        seen += [t["id"] for t in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted({r.id for r in rows} | set(seen), reverse=True)
    assert set(seen) >= {r.id for r in rows}
    pending = client.get("/api/v1/transactions?status=pending&limit=200", headers=bearer(plain)).get_json()["data"]
    assert {t["status"] for t in pending} == {"pending"}


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=500", "limit"), ("limit=abc", "limit"), ("status=lost", "status"),
    ("cursor=bm90LWEtY3Vyc29y", "cursor"), ("cursor=WyJ4Il0", "cursor"), ("created_after=yesterday", "created_after"),
    ("institution_id=-1", "institution_id"), ("q=%00", "q"), ("created_before=", "created_before"),
    ("created_after=2026-01-31", "created_after"), ("status=", "status"),
])
def test_bad_parameters_get_a_validation_error(app, db, make_user, make_token, query, field):
    plain = make_token(make_user(Role.SUPERADMIN))
    response = app.test_client().get(f"/api/v1/transactions?{query}", headers=bearer(plain))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]


def test_read_tokens_cannot_decide_and_write_tokens_need_the_permission(app, db, make_user, make_transaction,
                                                                        make_token):
    tx = make_transaction()
    db.session.commit()
    client = app.test_client()
    read_only = make_token(make_user(Role.SUPERADMIN), "read")
    refused = client.post(f"/api/v1/transactions/{tx.id}/approve", headers=bearer(read_only))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "insufficient_scope"
    assert client.get("/api/v1/users", headers=bearer(make_token(make_user(Role.ADMIN), "write"))).status_code == 200


def test_decisions_through_the_api_reuse_the_console_guard(app, db, make_user, make_transaction, make_approval,
                                                           make_token):
    tx = make_transaction()
    requester = make_user(Role.ADMIN)
    approval = make_approval(requested_by=requester)
    db.session.commit()
    client = app.test_client()
    plain = make_token(make_user(Role.ADMIN), "write")
    stale = client.post(f"/api/v1/transactions/{tx.id}/approve", json={"expected_version": tx.version + 1},
                        headers=bearer(plain))
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "changed_meanwhile"
    no_reason = client.post(f"/api/v1/transactions/{tx.id}/reject", headers=bearer(plain))
    assert no_reason.status_code == 422 and no_reason.get_json()["error"]["code"] == "decision_refused"
    approved = client.post(f"/api/v1/transactions/{tx.id}/approve", json={"expected_version": tx.version},
                           headers=bearer(plain))
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    again = client.post(f"/api/v1/transactions/{tx.id}/reject", json={"reason": "too late"}, headers=bearer(plain))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_decided"
    assert again.get_json()["error"]["status"] == "approved"
    entries = db.session.scalars(select(AuditLog).where(AuditLog.resource_type == "transaction",
                                                        AuditLog.resource_id == str(tx.id))).all()
    assert [(e.action, e.result) for e in entries] == [("TRANSACTION_APPROVE", "success"),
                                                       ("TRANSACTION_REJECT", "failure")]
    own = client.post(f"/api/v1/approvals/{approval.id}/approve", headers=bearer(make_token(requester, "write")))
    assert own.status_code == 422  # four eyes: not one's own request
    rejected = client.post(f"/api/v1/approvals/{approval.id}/reject", json={"reason": "not needed"},
                           headers=bearer(plain))
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    for body in ([1, 2], {"reason": 5}, {"expected_version": "3"}, {"surprise": True}, {"reason": "a\x00b"}):
        response = client.post(f"/api/v1/approvals/{approval.id}/reject", json=body, headers=bearer(plain))
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error", body


def test_cached_reads_change_as_soon_as_a_decision_commits(app, db, make_user, make_transaction, make_token):
    tx = make_transaction()
    db.session.commit()
    client = app.test_client()
    plain = make_token(make_user(Role.ADMIN), "write")
    url = "/api/v1/transactions?status=pending&limit=200"
    assert tx.id in [t["id"] for t in client.get(url, headers=bearer(plain)).get_json()["data"]]
    assert client.post(f"/api/v1/transactions/{tx.id}/approve", headers=bearer(plain)).status_code == 200
    assert tx.id not in [t["id"] for t in client.get(url, headers=bearer(plain)).get_json()["data"]]


def test_api_never_uses_the_session_cookie_and_needs_no_csrf(app, db, make_user, make_transaction, client_for,
                                                             make_token):
    tx = make_transaction()
    user = make_user(Role.SUPERADMIN)
    db.session.commit()
    browser = client_for(user)
    assert browser.get("/dashboard").status_code == 200
    assert browser.post(f"/api/v1/transactions/{tx.id}/approve").status_code == 401
    plain = make_token(user, "write")
    assert app.test_client().post(f"/api/v1/transactions/{tx.id}/approve",
                                  headers=bearer(plain)).status_code == 200  # no CSRF token, no cookie


def test_users_endpoint_follows_user_administration(app, db, make_user, make_institution, make_token):
    institution = make_institution()
    mine = make_user(Role.CUSTOMER, institution=institution)
    other = make_user(Role.CUSTOMER)
    client = app.test_client()
    plain = make_token(make_user(Role.INSTITUTION_ADMIN, institution=institution))
    listed = client.get("/api/v1/users?limit=200", headers=bearer(plain)).get_json()["data"]
    assert [u["id"] for u in listed] == [mine.id] and listed[0]["two_factor_enabled"] is False
    assert client.get(f"/api/v1/users/{other.id}", headers=bearer(plain)).status_code == 404
    assert client.get(f"/api/v1/users/{mine.id}", headers=bearer(plain)).get_json()["email"] == mine.email
    admin = make_token(make_user(Role.ADMIN))
    filtered = client.get("/api/v1/users?role=customer&active=true&q=customer&limit=200",
                          headers=bearer(admin)).get_json()["data"]
    assert {u["role"] for u in filtered} == {"customer"}


def test_openapi_document_describes_every_api_route(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.") and document["servers"] == [{"url": PREFIX}]
    documented = {(PREFIX + path).replace("{", "<").replace("}", ">") for path in PATHS}
    routes = {re.sub(r"<int:(\w+)>", r"<\1>", rule.rule) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi_document"}
    assert routes == documented


def test_tokens_of_users_overdue_for_two_factor_are_refused(app, db, make_user, make_token):
    from datetime import timedelta

    user = make_user(Role.ADMIN)
    plain = make_token(user)
    user.two_factor_policy_since = utcnow() - timedelta(days=30)  # the grace period (7 days) is long over
    db.session.commit()
    refused = app.test_client().get("/api/v1/me", headers=bearer(plain))
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "two_factor_required"


def test_users_endpoint_uses_the_user_list_pages_filters(app, db, make_user, make_token):
    admin = make_token(make_user(Role.ADMIN, email="lead@example.com"))
    secured = make_user(Role.ADMIN, email="secured@example.com", with_2fa=True)
    client = app.test_client()
    on = client.get("/api/v1/users?two_factor=true&limit=200", headers=bearer(admin)).get_json()["data"]
    off = client.get("/api/v1/users?two_factor=false&limit=200", headers=bearer(admin)).get_json()["data"]
    assert [u["id"] for u in on] == [secured.id] and secured.id not in {u["id"] for u in off}
    for query, field in (("two_factor=on", "two_factor"), ("role=nobody", "role"),
                         ("institution_id=x", "institution_id"), ("q=a%01b", "q")):
        response = client.get(f"/api/v1/users?{query}", headers=bearer(admin))
        error = response.get_json()["error"]
        assert response.status_code == 400 and error["code"] == "validation_error" and set(error["fields"]) == {field}
