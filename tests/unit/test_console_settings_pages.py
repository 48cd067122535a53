"""The settings pages: sections with help text, edits behind step-up, validation, stale edits,
history, and the maintenance banner on every page."""

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.security.actor import Actor
from app.settings import services as settings
from app.settings.definitions import SETTINGS
from app.users.models import Role


@pytest.fixture
def superadmin(make_user, staff, step_up):
    forms = staff(make_user(Role.SUPERADMIN, display_name="Sari Super", email="sari@example.com"))
    step_up(forms)
    return forms


def test_every_declared_setting_is_listed_by_section_with_help(make_user, staff):
    page = staff(make_user(Role.SUPERADMIN)).client.get("/settings").get_data(as_text=True)
    for setting in SETTINGS:
        assert f'data-testid="setting-{setting.key}"' in page
        assert str(setting.help) in page and str(setting.section) in page
    assert "Superadmin, Admin" in page and "15 minutes" in page and "Yes" in page and "(empty)" in page


def test_editing_needs_step_up(make_user, staff):
    forms = staff(make_user(Role.SUPERADMIN))
    response = forms.client.get("/settings/audit_retention_days")
    assert response.status_code == 302 and response.headers["Location"].startswith("/step-up?next=/settings/")


def test_an_edit_is_validated_audited_and_listed_in_the_history(db, superadmin):
    url = "/settings/audit_retention_days"
    form = superadmin.client.get(url).get_data(as_text=True)
    assert "A whole number from 30 to 3650." in form and "This setting has never been changed." in form
    for raw, message in [("ten", "Enter a whole number."), ("29", "The smallest allowed value is 30."),
                         ("5000", "The largest allowed value is 3650.")]:
        response = superadmin.post(url, {"value": raw})
        body = response.get_data(as_text=True)
        assert response.status_code == 400 and message in body and f'value="{raw}"' in body
    assert settings.get("audit_retention_days") == 365
    assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "SETTINGS_UPDATE")) is None
    assert superadmin.post(url, {"value": "400"}).status_code == 302
    assert settings.get("audit_retention_days") == 400
    index = superadmin.client.get("/settings").get_data(as_text=True)
    assert "Keep audit entries (days) saved." in index and 'data-testid="value-audit_retention_days">400<' in index
    history = superadmin.client.get("/settings/history").get_data(as_text=True)
    assert "sari@example.com" in history and "audit_retention_days" in history and ">365<" in history
    assert ">400<" in history
    assert "sari@example.com" in superadmin.client.get(url).get_data(as_text=True)
    filtered = superadmin.client.get("/settings/history?key=maintenance_banner").get_data(as_text=True)
    assert "No changes have been recorded yet." not in filtered and "Nothing matches these filters." in filtered
    export = superadmin.client.get("/settings/history?format=csv", buffered=True).get_data(as_text=True)
    assert export.splitlines()[1].endswith(",sari@example.com,audit_retention_days,365,400")


def test_a_stale_edit_is_refused_with_who_changed_it(db, superadmin, make_user):
    other = make_user(Role.SUPERADMIN, display_name="Other Super")
    url = "/settings/two_factor_grace_days"
    superadmin.client.get(url)  # the editor opened the form while the default was in force
    settings.update(Actor.for_user(other), "two_factor_grace_days", 3)
    db.session.commit()
    response = superadmin.post(url, {"value": "10", "version": ""})
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Other Super changed this setting at" in body and "Nothing was saved" in body
    assert settings.get("two_factor_grace_days") == 3
    assert 'name="version" type="hidden" value="1"' in body  # the form now carries the current version
    assert superadmin.post(url, {"value": "10", "version": "1"}).status_code == 302
    assert settings.get("two_factor_grace_days") == 10


@pytest.mark.parametrize(("key", "data", "expected", "error"), [
    ("impersonation_time_limit", {"value": "30"}, 1800, None),
    ("impersonation_time_limit", {"value": "0"}, 900, "Enter between 1 and 240 minutes."),
    ("impersonation_time_limit", {"value": "1.5"}, 900, "Enter a whole number of minutes."),
    ("backup_drill_after_create", {"value": "false"}, False, None),
    ("two_factor_required_roles", {"value": ["admin", "superadmin"]}, ["superadmin", "admin"], None),
    ("two_factor_required_roles", {"value": ["root"]}, ["superadmin", "admin", "privacy_officer"],
     "Choose only among the offered"),
    ("maintenance_banner", {"value": "line\u0007bell"}, "", "Remove the control characters"),
])
def test_each_kind_of_setting(superadmin, key, data, expected, error):
    response = superadmin.post(f"/settings/{key}", data)
    if error:
        assert response.status_code == 400 and error in response.get_data(as_text=True)
    else:
        assert response.status_code == 302
    assert settings.get(key) == expected


def test_unchanged_value_and_unknown_setting(superadmin):
    response = superadmin.post("/settings/audit_retention_days", {"value": "365"})
    assert response.status_code == 302
    assert "Nothing changed." in superadmin.client.get("/settings").get_data(as_text=True)
    assert superadmin.client.get("/settings/no_such_setting").status_code == 404
    assert superadmin.client.post("/settings/audit_retention_days", data={"value": "1"}).status_code == 400


def test_maintenance_banner_is_shown_on_every_page_while_set(db, superadmin, client, make_user, staff):
    assert 'data-testid="maintenance-banner"' not in client.get("/login").get_data(as_text=True)
    superadmin.post("/settings/maintenance_banner", {"value": "Upgrade tonight at 22:00 <b>WIB</b>"})
    for page in (client.get("/login"), staff(make_user(Role.INSTITUTION_ADMIN)).client.get("/dashboard"),
                 superadmin.client.get("/settings"), client.get("/no-such-page")):
        body = page.get_data(as_text=True)
        assert 'data-testid="maintenance-banner"' in body
        assert "Upgrade tonight at 22:00 &lt;b&gt;WIB&lt;/b&gt;" in body
    superadmin.post("/settings/maintenance_banner", {"value": ""})
    assert 'data-testid="maintenance-banner"' not in client.get("/login").get_data(as_text=True)


def test_banner_failure_does_not_break_pages(client, monkeypatch):
    def broken(_key):
        raise RuntimeError("database down")

    monkeypatch.setattr(settings, "get", broken)
    assert client.get("/login").status_code == 200
