"""Step-up: sensitive actions need a password re-entered within the last five minutes."""

import time

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.security import stepup
from app.security.access import Permission, requires
from app.users.models import Role
from tests.conftest import DEFAULT_PASSWORD, FormClient, build_app


def test_step_up_page_checks_the_password_and_returns(db, app, client, make_user, login_as, forms):
    login_as(make_user(Role.ADMIN))
    before = client.get_cookie("saintara_session").value
    wrong = forms.post("/step-up", {"password": "not my password", "next": "/account"}, page="/step-up?next=/account")
    assert wrong.status_code == 400 and "This is not your password." in wrong.get_data(as_text=True)
    right = forms.post("/step-up", {"password": DEFAULT_PASSWORD, "next": "/account"}, page="/step-up")
    assert right.status_code == 302 and right.headers["Location"] == "/account"
    assert client.get_cookie("saintara_session").value != before  # new id at step-up
    results = db.session.scalars(select(AuditLog.result).where(AuditLog.action == "STEP_UP")).all()
    assert results == ["failure", "success"]
    evil = forms.post("/step-up", {"password": DEFAULT_PASSWORD, "next": "https://evil.example"}, page="/step-up")
    assert evil.headers["Location"] == "/dashboard"


@pytest.fixture(scope="module")
def guarded_app(tmp_path_factory):
    from app.config import TEST_CONFIG

    instance = tmp_path_factory.mktemp("stepup")
    application = build_app({**TEST_CONFIG, "INSTANCE_PATH": str(instance), "REDIS_URL": None,
                             "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'db.sqlite'}"})

    @application.route("/sensitive", methods=["GET", "POST"])
    @requires(Permission.VIEW_PORTAL)
    @stepup.step_up_required
    def sensitive():
        return "did the sensitive thing"

    return application


def test_decorator_sends_the_user_to_step_up_and_back(guarded_app, monkeypatch):
    from app.extensions import db as _db
    from app.security.actor import Actor
    from app.users import services

    with guarded_app.app_context():
        user = services.create_user(Actor.system("t"), email="ops@example.com", display_name="Ops",
                                    role=Role.ADMIN, password=DEFAULT_PASSWORD)
        _db.session.commit()
        email = user.email
    client = guarded_app.test_client()
    forms = FormClient(client)
    forms.post("/login", {"email": email, "password": DEFAULT_PASSWORD})
    response = client.get("/sensitive?x=1")
    assert response.status_code == 302 and response.headers["Location"] == "/step-up?next=/sensitive?x%3D1"
    posted = client.post("/sensitive", headers={"Referer": "http://localhost/dashboard"},
                         data={"csrf_token": forms.token("/dashboard")})
    assert posted.headers["Location"] == "/step-up?next=/dashboard"
    done = forms.post("/step-up", {"password": DEFAULT_PASSWORD, "next": "/sensitive?x=1"}, page="/step-up")
    assert done.headers["Location"] == "/sensitive?x=1"
    assert client.get("/sensitive?x=1").get_data(as_text=True) == "did the sensitive thing"
    later = time.time() + stepup.STEP_UP_WINDOW + 1
    monkeypatch.setattr(stepup.time, "time", lambda: later)
    assert client.get("/sensitive").status_code == 302
