"""POST /analytics/collect: the first-party script's named actions, same origin only, typed input."""

from __future__ import annotations

import json

import pytest

from app.users.models import Role
from tests.unit.analytics_support import flushed

SAME = {"Sec-Fetch-Site": "same-origin"}


def beacon(client, body, headers=SAME):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/analytics/collect", data=data, headers=headers, content_type="application/json")


def test_a_declared_click_is_recorded_with_the_page_route(app, db, consenting, client_for):
    client = client_for(consenting(Role.SUPERADMIN))
    assert beacon(client, {"name": "print_clicked", "page": "/privacy/records"}).status_code == 204
    assert beacon(client, {"name": "csv_export_clicked", "page": "/users/12?q=someone"}).status_code == 204
    assert beacon(client, {"name": "jump_opened", "page": "/no/such/page"}).status_code == 204
    assert [(e.name, e.path) for e in flushed(app, db)] == [
        ("print_clicked", "/privacy/records"), ("csv_export_clicked", "/users/<int:user_id>"), ("jump_opened", None)]


def test_origin_without_fetch_metadata_must_be_this_site(app, db, consenting, client_for):
    client = client_for(consenting())
    body = {"name": "print_clicked", "page": "/account"}
    assert beacon(client, body, {"Origin": "http://localhost"}).status_code == 204
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "https://evil.example"}, {}):
        response = beacon(client, body, headers)
        assert response.status_code == 403 and response.json["error"]["code"] == "cross_origin"
    assert len(flushed(app, db)) == 1


@pytest.mark.parametrize(("body", "field"), [
    (b"not json", "body"),
    (b"\xff\xfe", "body"),
    ([1, 2], "body"),
    ({"page": "/account"}, "body"),
    ({"name": 5, "page": "/account"}, "body"),
    ({"name": "made_up", "page": "/account"}, "name"),
    ({"name": "page_view", "page": "/account"}, "name"),  # the server records page views itself
    ({"name": "invitation_accepted", "page": "/account"}, "name"),
    ({"name": "print_clicked", "page": "https://evil.example/x"}, "page"),
    ({"name": "print_clicked", "page": "//evil.example/x"}, "page"),
    ({"name": "print_clicked", "page": "/" + "a" * 3000}, "body"),
])
def test_bad_input_is_a_400_that_names_the_field(app, db, consenting, client_for, body, field):
    response = beacon(client_for(consenting()), body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"]["code"] == "validation_error" and response.json["error"]["field"] == field
    assert flushed(app, db) == []


def test_without_consent_the_beacon_is_taken_and_dropped(app, db, make_user, client_for):
    client = client_for(make_user(Role.ADMIN))
    assert beacon(client, {"name": "print_clicked", "page": "/account"}).status_code == 204
    assert beacon(client, {"name": "print_clicked", "page": "/account"}, {**SAME, "Sec-GPC": "1"}).status_code == 204
    assert flushed(app, db) == []


def test_anonymous_beacons_are_sent_to_sign_in(app, db):
    response = beacon(app.test_client(), {"name": "print_clicked", "page": "/account"})
    assert response.status_code in (302, 401)
    assert flushed(app, db) == []


def test_beacons_are_rate_limited_per_account(app, db, consenting, client_for, frozen_clock):
    client = client_for(consenting())
    answers = [beacon(client, {"name": "print_clicked", "page": "/account"}).status_code for _ in range(121)]
    assert answers[:120] == [204] * 120 and answers[120] == 429
