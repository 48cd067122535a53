"""Every user, institution, customer, transaction and approval page links to its timeline."""

import pytest

from app.users.models import Role


@pytest.fixture
def superadmin(make_user, staff):
    return staff(make_user(Role.SUPERADMIN, with_2fa=True))


def test_detail_pages_link_to_their_audit_timeline(db, superadmin, make_user, make_customer, make_transaction,
                                                   make_approval):
    customer = make_customer()
    tx = make_transaction(customer=customer)
    approval = make_approval()
    other = make_user(Role.ADMIN)
    pages = {
        f"/institutions/{customer.institution_id}": ("institution", customer.institution_id),
        f"/customers/{customer.id}": ("customer", customer.id),
        f"/transactions/{tx.id}": ("transaction", tx.id),
        f"/approvals/{approval.id}": ("approval", approval.id),
        f"/users/{other.id}": ("user", other.id),
    }
    for path, (resource_type, resource_id) in pages.items():
        page = superadmin.client.get(path).get_data(as_text=True)
        assert f'href="/audit/resources/{resource_type}/{resource_id}"' in page, path
        timeline = superadmin.client.get(f"/audit/resources/{resource_type}/{resource_id}")
        assert timeline.status_code == 200, path
    assert f'href="/audit/actors/{other.id}"' in superadmin.client.get(f"/users/{other.id}").get_data(as_text=True)


def test_no_history_link_for_those_who_may_not_read_the_audit_log(db, make_user, staff):
    customer_user = make_user(Role.CUSTOMER)
    page = staff(customer_user).client.get("/account").get_data(as_text=True)
    assert "/audit/" not in page
