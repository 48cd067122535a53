"""Bad input on the foundation's forms gets a clear message and changes nothing."""

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditLog


@pytest.mark.parametrize(("data", "messages"), [
    ({"email": "", "password": ""}, ["Enter your e-mail address.", "Enter your password."]),
    ({"email": "a" * 250 + "@example.com", "password": "whatever whatever"},
     ["An e-mail address has at most 254 characters."]),
    ({"email": "x@example.com", "password": "p" * 300}, ["A password has at most 256 characters."]),
])
def test_sign_in_form(db, forms, data, messages):
    response = forms.post("/login", data)
    body = response.get_data(as_text=True)
    for message in messages:
        assert message in body
    assert response.status_code == 400
    assert 'aria-invalid="true"' in body
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == 0


def test_unknown_form_fields_are_ignored(forms):
    response = forms.post("/login", {"email": "", "password": "", "role": "superadmin"})
    assert response.status_code == 400
