"""Which pages load session replay: a browser DSN, the sample setting above zero, and a signed-in
person who consented, without DNT/GPC; the setting is typed and its changes audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditAction, AuditLog
from app.security.actor import Actor
from app.settings import services as settings
from app.settings.definitions import BY_KEY
from app.users.models import Role
from tests.unit.test_replay_tunnel import replay_consent

DSN = "http://public0123456789abcdef@127.0.0.1:9/42"
REPLAY_SCRIPT = "/static/vendor/sentry/sentry-replay.min.js"


@pytest.fixture
def with_dsn(app, monkeypatch):
    monkeypatch.setitem(app.config, "SENTRY_BROWSER_DSN", DSN)


def sample(db, percent: int) -> None:
    current = next(s for s in settings.current_states() if s.setting.key == "replay_sample_percent")
    settings.update(Actor.system("test"), "replay_sample_percent", str(percent), expected_version=current.version)
    db.session.commit()


def page(client, headers=None) -> str:
    response = client.get("/account/consent", headers=headers or {})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_consenting_person_gets_the_replay_at_the_sampled_rate(app, db, with_dsn, make_user, client_for):
    user = make_user(Role.ADMIN)
    replay_consent(user)
    sample(db, 25)
    html = page(client_for(user))
    assert REPLAY_SCRIPT in html and 'data-replay-rate="0.25"' in html
    assert 'data-replay-worker="/static/vendor/sentry/replay-worker.min.js"' in html
    assert 'data-tunnel="/sentry-tunnel"' in html


@pytest.mark.parametrize("headers", [{"DNT": "1"}, {"Sec-GPC": "1"}])
def test_dnt_or_gpc_means_no_replay(app, db, with_dsn, make_user, client_for, headers):
    user = make_user(Role.ADMIN)
    replay_consent(user)
    sample(db, 100)
    html = page(client_for(user), headers)
    assert REPLAY_SCRIPT not in html and "data-replay-rate" not in html
    assert "/static/vendor/sentry/sentry.min.js" in html  # errors are still reported


def test_no_consent_a_withdrawal_or_a_zero_rate_means_no_replay(app, db, with_dsn, make_user, client_for, client):
    user = make_user(Role.ADMIN)
    db.session.commit()
    sample(db, 100)
    signed_in = client_for(user)
    assert REPLAY_SCRIPT not in page(signed_in)
    replay_consent(user)
    db.session.commit()
    assert REPLAY_SCRIPT in page(signed_in)
    replay_consent(user, granted=False)
    db.session.commit()
    assert REPLAY_SCRIPT not in page(signed_in)
    replay_consent(user)
    sample(db, 0)
    assert REPLAY_SCRIPT not in page(signed_in)
    assert REPLAY_SCRIPT not in client.get("/login").get_data(as_text=True)  # anonymous: never


def test_no_browser_dsn_no_sentry_at_all(app, db, make_user, client_for):
    user = make_user(Role.ADMIN)
    replay_consent(user)
    sample(db, 100)
    assert "sentry" not in page(client_for(user)).lower()


def test_the_sample_setting_is_a_bounded_whole_percentage_and_audited(app, db):
    setting = BY_KEY["replay_sample_percent"]
    assert settings.get("replay_sample_percent") == 0  # off until an operator chooses a share
    for bad in ("101", "-1", "0.5", "half", ""):
        with pytest.raises(settings.InvalidSetting):
            settings.validate(setting, bad)
    sample(db, 10)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == AuditAction.SETTINGS_UPDATE.value,
                                                      AuditLog.resource_id == "replay_sample_percent")).one()
    assert entry.changes == {"replay_sample_percent": {"before": 0, "after": 10}}


def test_the_settings_page_shows_the_replay_setting(app, db, make_user, client_for):
    html = client_for(make_user(Role.SUPERADMIN)).get("/settings").get_data(as_text=True)
    assert "Session replay: sessions recorded (%)" in html and "/settings/replay_sample_percent" in html
