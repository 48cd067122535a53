"""The shared input layer (app/inputs.py): one guard, one form base, typed parsers."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import UTC, date, datetime

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import IntegerField, StringField

import app as app_package
from app import inputs
from app.audit.models import AuditLog
from app.users.models import Role, User

CONTROL_VALUES = ["a\x00b", "\x00", "x\x1b[31m", "tab\x7f"]


def audit_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditLog))


@pytest.mark.parametrize("value", CONTROL_VALUES)
def test_a_control_character_at_sign_in_is_refused_and_nothing_is_recorded(db, forms, make_user, value):
    user = make_user(Role.ADMIN)
    before = audit_count(db)
    response = forms.post("/login", {"email": user.email + value, "password": "whatever whatever"})
    assert response.status_code == 400
    assert "Remove the control characters" in response.get_data(as_text=True)
    assert audit_count(db) == before


def test_forgot_password_with_a_nul_byte_is_refused(db, forms, outbox):
    response = forms.post("/forgot-password", {"email": "a\x00@example.com"})
    assert response.status_code == 400 and "“email”" in response.get_data(as_text=True)
    assert outbox == [] and audit_count(db) == 0


@pytest.mark.parametrize("url", ["/customers?q=a%00b", "/transactions?q=%00", "/institutions?q=x%1b",
                                 "/users?q=%00", "/audit?q=abc%00", "/settings/history?key=%00",
                                 "/customers?%00=1"])
def test_a_control_character_in_a_query_is_a_400_naming_it(make_user, client_for, url):
    client = client_for(make_user(Role.SUPERADMIN))
    response = client.get(url)
    assert response.status_code == 400
    assert "Remove the control characters" in response.get_data(as_text=True)


def test_an_over_long_query_value_is_refused(make_user, client_for):
    client = client_for(make_user(Role.SUPERADMIN))
    response = client.get("/customers?q=" + "a" * (inputs.MAX_QUERY_VALUE + 1))
    assert response.status_code == 400 and "is too long" in response.get_data(as_text=True)


def test_line_breaks_stay_allowed_in_forms(app):
    from werkzeug.datastructures import MultiDict

    with app.test_request_context(method="POST", data=MultiDict({"reason": "first\r\nsecond\tthird"})):
        inputs.check_request()
    with (app.test_request_context(method="POST", data=MultiDict({"reason": "first\x0bsecond"})),
          pytest.raises(inputs.InvalidInput)):
        inputs.check_request()


def test_a_nul_in_a_reason_is_refused(db, make_user, client_for):
    admin = make_user(Role.SUPERADMIN)
    customer = make_user(Role.CUSTOMER)
    client = client_for(admin)
    page = f"/users/{customer.id}"
    from tests.conftest import FormClient

    poster = FormClient(client)
    before = audit_count(db)
    refused = poster.post(f"/users/{customer.id}/impersonate", {"reason": "ticket\x00 42"}, page=page)
    assert refused.status_code == 400 and audit_count(db) == before


def test_the_api_refuses_control_characters_in_json_with_a_stable_code(db, make_user, app):
    from app.api import tokens
    from app.security.actor import Actor

    user = make_user(Role.ADMIN)
    _token, plain = tokens.create_token(Actor.for_user(user), user, name="t", scope="write", days=30)
    db.session.commit()
    client = app.test_client()
    before = audit_count(db)
    response = client.post("/api/v1/transactions/1/reject", json={"reason": "no\x00pe"},
                           headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 400
    body = response.get_json()["error"]
    assert body["code"] == "validation_error" and "reason" in body["fields"]
    assert audit_count(db) == before
    response = client.get("/api/v1/users?q=%00", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"


def test_deeply_nested_json_is_a_400_not_a_crash(make_user, app, db):
    client = app.test_client()
    body = "[" * 5000 + "]" * 5000
    response = client.post("/api/v1/transactions/1/reject", data=body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("query", [
    "created_from=0001-01-01&created_to=9999-12-31",
    "created_from=9999-12-31",
    "created_to=0001-01-01",
])
def test_dates_at_the_ends_of_the_calendar_are_accepted_as_open_bounds(make_user, client_for, query):
    client = client_for(make_user(Role.SUPERADMIN))
    assert client.get(f"/transactions?{query}").status_code == 200
    assert client.get(f"/approvals?{query.replace('created', 'requested')}").status_code == 200


@pytest.mark.parametrize("query", [
    "since=0001-01-01&until=9999-12-31", "since=9999-12-31", "until=0001-01-01",
    "since=0001-01-01T00:00&until=9999-12-31T23:59",
])
def test_audit_views_and_exports_take_the_calendar_ends(make_user, client_for, query):
    from app.settings import services as settings

    client = client_for(make_user(Role.SUPERADMIN))
    assert client.get(f"/audit?{query}").status_code == 200
    settings.get("csv_exports_per_hour")  # exports are limited per hour; two fit
    for fmt in ("csv", "jsonl"):
        response = client.get(f"/audit/export/{fmt}?{query}")
        assert response.status_code == 200
        response.get_data()


def test_day_bounds_at_the_calendar_ends():
    assert inputs.day_bounds(date(1, 1, 1), date(9999, 12, 31), "Asia/Jakarta") == (None, None)
    start, end = inputs.day_bounds(date(2026, 1, 1), date(2026, 1, 1), "Asia/Jakarta")
    assert start == datetime(2025, 12, 31, 17, tzinfo=UTC) and end == datetime(2026, 1, 1, 17, tzinfo=UTC)


@pytest.mark.parametrize(("raw", "ok"), [("", None), ("12", 12), ("-1", None), ("1e3", None), ("٣", None),
                                         (str(2**31), None), ("9" * 40, None)])
def test_whole_number(raw, ok):
    if ok is None and raw:
        with pytest.raises(inputs.InvalidInput):
            inputs.whole_number(raw)
    else:
        assert inputs.whole_number(raw) == ok


def test_text_parser():
    assert inputs.text("  hi ") == "hi" and inputs.text("   ") is None
    assert inputs.text("two\nlines", multiline=True) == "two\nlines"
    for bad in ("a\x00", "two\nlines", "x" * 101):
        with pytest.raises(inputs.InvalidInput):
            inputs.text(bad)


def _app_forms():
    for info in pkgutil.walk_packages(app_package.__path__, "app."):
        module = importlib.import_module(info.name)
        for _name, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, FlaskForm) and obj.__module__ == module.__name__:
                yield obj


def test_every_form_is_built_on_the_shared_base():
    found = list(_app_forms())
    assert len(found) > 20
    assert [f.__qualname__ for f in found if not issubclass(f, inputs.Form)] == []


def test_the_base_form_bounds_fields_that_declare_nothing(app):
    class Bare(inputs.Form):
        class Meta:
            csrf = False

        name = StringField()
        count = IntegerField()

    from werkzeug.datastructures import MultiDict

    with app.test_request_context(method="POST"):
        form = Bare(MultiDict({"name": "x" * 256, "count": str(10**30)}))
        assert not form.validate()
        assert form.name.errors and form.count.errors
        form = Bare(MultiDict({"name": "x" * 255, "count": "7"}))
        assert form.validate()


def test_nothing_changed_after_a_refused_profile_edit(db, make_user, client_for):
    admin = make_user(Role.SUPERADMIN)
    target = make_user(Role.ADMIN)
    from tests.conftest import FormClient

    poster = FormClient(client_for(admin))
    before = (target.display_name, audit_count(db))
    response = poster.post(f"/users/{target.id}/edit", {"display_name": "Eve\x00", "role": "admin",
                                                        "version": str(target.version)},
                           page=f"/users/{target.id}/edit")
    assert response.status_code == 400
    db.session.expire_all()
    assert (db.session.get(User, target.id).display_name, audit_count(db)) == before


@pytest.mark.parametrize("url", ["/transactions?institution=%C2%B2", "/transactions?amount_min=%C2%B2",
                                 "/audit?actor=%23%C2%B2", "/audit?actor_id=%C2%B2", "/users?institution=%C2%B2",
                                 "/customers?institution=%D9%A3"])
def test_digits_that_int_refuses_are_a_message_not_a_crash(make_user, client_for, url):
    client = client_for(make_user(Role.SUPERADMIN))
    assert client.get(url).status_code in (200, 400)


def test_api_numbers_in_other_scripts_are_a_validation_error(db, make_user, app):
    from app.api import tokens
    from app.security.actor import Actor

    user = make_user(Role.SUPERADMIN)
    _token, plain = tokens.create_token(Actor.for_user(user), user, name="t", scope="read", days=30)
    db.session.commit()
    client = app.test_client()
    for url in ("/api/v1/users?limit=%C2%B2", "/api/v1/audit-logs?limit=%C2%B2", "/api/v1/audit-logs?actor_id=%C2%B2"):
        response = client.get(url, headers={"Authorization": f"Bearer {plain}"})
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error", url


@pytest.mark.parametrize(("url", "absent"), [
    ("/customers?q=%25", "plain@example.com"), ("/customers?q=_", "plain@example.com"),
    ("/institutions?q=%25", "PLN01"), ("/institutions?q=_", "PLN01"),
    ("/users?q=%25", "plain-user@example.com"), ("/users?q=_", "plain-user@example.com")])
def test_a_typed_percent_or_underscore_is_taken_literally(db, make_user, make_institution, make_customer, client_for,
                                                          url, absent):
    make_customer(full_name="Plain Name", email="plain@example.com",
                  institution=make_institution(code="PLN01", name="Plain Institution"))
    make_user(Role.ADMIN, email="plain-user@example.com", display_name="Plain User")
    client = client_for(make_user(Role.SUPERADMIN))
    response = client.get(url)
    assert response.status_code == 200 and absent not in response.get_data(as_text=True)
