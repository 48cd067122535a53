"""The user's own sessions page: what is listed, ending one, ending all the others."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.security.sessions import session_key
from app.users.account_sessions import describe_user_agent
from app.users.models import Role
from tests.conftest import DEFAULT_PASSWORD, FormClient

CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 "
          "Safari/537.36")


def signed_in_browser(app, user, agent="test"):
    browser = FormClient(app.test_client())
    browser.client.environ_base["HTTP_USER_AGENT"] = agent
    browser.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD})
    return browser


def test_sessions_page_lists_browser_address_and_times(db, app, client, make_user, login_as):
    user = make_user(Role.CUSTOMER)
    signed_in_browser(app, user, CHROME)
    login_as(user)
    page = client.get("/account/sessions").get_data(as_text=True)
    assert "Chrome 156 / Linux" in page and "127.0.0.1" in page and "this session" in page
    assert len(re.findall(r'name="key" value="[0-9a-f]{64}"', page)) == 1  # the current one has no End button


def test_ending_one_and_all_other_sessions(db, app, client, forms, make_user, login_as):
    user = make_user(Role.CUSTOMER)
    others = [signed_in_browser(app, user) for _ in range(2)]
    login_as(user)
    key = re.search(r'name="key" value="([0-9a-f]{64})"',
                    client.get("/account/sessions").get_data(as_text=True)).group(1)
    forms.post("/account/sessions/end", {"key": key}, page="/account/sessions")
    assert sorted(o.client.get("/account").status_code for o in others) == [200, 302]
    again = forms.post("/account/sessions/end", {"key": key}, page="/account/sessions")
    assert again.status_code == 302
    assert "That session had already ended." in client.get("/account/sessions").get_data(as_text=True)
    forms.post("/account/sessions/end", {"scope": "others"}, page="/account/sessions")
    assert [o.client.get("/account").status_code for o in others] == [302, 302]
    assert client.get("/account").status_code == 200  # this one lives on
    ended = db.session.scalars(select(AuditLog).where(AuditLog.action == "SESSION_END")).all()
    assert len(ended) == 2 and ended[0].actor_id == user.id


def test_someone_elses_session_key_ends_nothing(db, app, client, forms, make_user, login_as):
    victim = make_user(Role.CUSTOMER)
    browser = signed_in_browser(app, victim)
    key = app.session_interface.sessions_for_user(victim.id)[0].key
    login_as(make_user(Role.CUSTOMER))
    forms.post("/account/sessions/end", {"key": key}, page="/account/sessions")
    assert browser.client.get("/account").status_code == 200


def test_the_current_session_is_ended_by_signing_out(db, client, forms, make_user, login_as):
    login_as(make_user(Role.CUSTOMER))
    current = session_key(client.get_cookie("saintara_session").value)
    forms.post("/account/sessions/end", {"key": current}, page="/account/sessions")
    assert "sign out to end it" in client.get("/account/sessions").get_data(as_text=True)
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize(("agent", "expected"), [
    (CHROME, "Chrome 156 / Linux"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0", "Firefox 140 / Windows"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.0 Mobile/15E148 Safari/604.1", "Safari 18 / iOS"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 "
     "Safari/537.36 Edg/140.0.0.0", "Edge 140 / Windows"),
    ("curl/8.5.0", "curl/8.5.0"),
    (None, "?"),
])
def test_user_agents_are_described_briefly(agent, expected):
    assert describe_user_agent(agent) == expected
