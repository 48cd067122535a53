"""The JSON API's lists read their filters from the list pages' own declarations
(app.platform.lists, app.users.lists) through app.api.params.list_filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.api import reads
from app.api.openapi import PATHS
from app.api.params import filter_parameters, list_filters
from app.listing import ChoiceFilter
from app.platform import lists as platform_lists
from app.users import lists as user_lists
from app.users.models import Role
from tests.conftest import bearer

LISTS = {
    "/institutions": (platform_lists.INSTITUTIONS, reads.INSTITUTION_FILTERS, ("active",)),
    "/transactions": (platform_lists.TRANSACTIONS, reads.TRANSACTION_FILTERS, ()),
    "/approvals": (platform_lists.APPROVALS, reads.APPROVAL_FILTERS, ()),
    "/users": (user_lists.USERS, reads.USER_FILTERS, reads.USER_BOOLEANS),
}
T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)





def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("path", sorted(LISTS))
def test_the_openapi_document_describes_exactly_what_each_list_reads(path):
    definition, names, booleans = LISTS[path]
    documented = {p["name"]: p["schema"] for p in PATHS[path]["get"]["parameters"]
                  if p["name"] not in ("limit", "cursor")}
    assert set(documented) == set(filter_parameters(definition, names))
    for param, name in names.items():
        flt = definition.filter(name)
        if not isinstance(flt, ChoiceFilter) or flt.integer:
            continue
        expected = ["true", "false"] if param in booleans else [value for value, _label in flt.choices]
        assert documented[param]["enum"] == expected, param


def test_a_filter_the_api_cannot_read_is_a_programming_error(app):
    with app.test_request_context("/api/v1/transactions?amount_min=5"), pytest.raises(TypeError, match="amount"):
        list_filters(platform_lists.TRANSACTIONS, {"amount": "amount"})


def test_transactions_filter_by_creation_time_like_the_page(app, db, make_user, make_customer, make_transaction,
                                                            make_token):
    customer = make_customer()
    rows = [make_transaction(customer, created_at=T0 + timedelta(days=n)) for n in range(3)]
    db.session.commit()
    plain = make_token(make_user(Role.SUPERADMIN))
    client = app.test_client()

    def listed(**query) -> list[int]:
        response = client.get("/api/v1/transactions", headers=bearer(plain),
                              query_string={"institution_id": customer.institution_id, **query})
        assert response.status_code == 200, response.get_json()
        return [t["id"] for t in response.get_json()["data"]]

    assert listed() == [rows[2].id, rows[1].id, rows[0].id]
    middle = stamp(T0 + timedelta(days=1))
    assert listed(created_after=middle) == [rows[2].id, rows[1].id]  # at or after
    assert listed(created_before=middle) == [rows[0].id]  # strictly before
    assert listed(created_after=stamp(T0), created_before=middle) == [rows[0].id]
    assert listed(created_after="2026-01-11T15:00:00+07:00") == [rows[2].id, rows[1].id]  # 08:00 UTC
    assert listed(q=rows[1].reference.lower()) == [rows[1].id]


def test_approvals_filter_by_kind_status_and_request_time(app, db, make_user, make_institution, make_approval,
                                                          make_token):
    institution = make_institution()
    refund = make_approval(institution, kind="refund", requested_at=T0)
    limit = make_approval(institution, kind="limit_increase", requested_at=T0 + timedelta(days=2))
    decided = make_approval(institution, kind="refund", status="rejected", requested_at=T0 + timedelta(days=1))
    db.session.commit()
    plain = make_token(make_user(Role.SUPERADMIN))
    client = app.test_client()

    def listed(**query) -> list[int]:
        response = client.get("/api/v1/approvals", headers=bearer(plain),
                              query_string={"institution_id": institution.id, **query})
        assert response.status_code == 200, response.get_json()
        return [a["id"] for a in response.get_json()["data"]]

    assert listed() == [decided.id, limit.id, refund.id]  # every status: the page's default is its own
    assert listed(kind="refund") == [decided.id, refund.id]
    assert listed(kind="refund", status="pending") == [refund.id]
    assert listed(requested_after=stamp(T0 + timedelta(hours=1))) == [decided.id, limit.id]
    assert listed(requested_before=stamp(T0 + timedelta(days=1))) == [refund.id]
    refused = (("kind=holiday", "kind"), ("status=lost", "status"), ("institution_id=0", "institution_id"),
               ("requested_after=2026-01-10", "requested_after"), ("requested_before=soon", "requested_before"))
    for query, field in refused:
        response = client.get(f"/api/v1/approvals?{query}", headers=bearer(plain))
        error = response.get_json()["error"]
        assert response.status_code == 400 and error["code"] == "validation_error"
        assert set(error["fields"]) == {field}


def test_institutions_filter_by_status_and_text(app, db, make_user, make_institution, make_token):
    active = make_institution(name="Koperasi Lestari", code="LESTARI1")
    inactive = make_institution(name="Koperasi Lestari Lama", code="LESTARI2")
    inactive.is_active = False
    db.session.commit()
    plain = make_token(make_user(Role.SUPERADMIN))
    client = app.test_client()

    def listed(**query) -> set[int]:
        response = client.get("/api/v1/institutions", headers=bearer(plain), query_string={"limit": 200, **query})
        assert response.status_code == 200, response.get_json()
        return {i["id"] for i in response.get_json()["data"]}

    assert listed(q="lestari") == {active.id, inactive.id}
    assert listed(q="lestari", active="true") == {active.id}
    assert listed(q="lestari", active="false") == {inactive.id}
    for query, field in (("active=yes", "active"), ("q=%07", "q"), ("q=" + "x" * 101, "q")):
        response = client.get(f"/api/v1/institutions?{query}", headers=bearer(plain))
        assert response.status_code == 400 and set(response.get_json()["error"]["fields"]) == {field}
