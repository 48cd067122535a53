"""Typed system settings: defaults, validation, audited changes, cache cleared on commit."""

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.extensions import cache
from app.security.actor import Actor
from app.settings import services as settings
from app.settings.definitions import BY_KEY, SETTINGS

ACTOR = Actor(user_id=None, email="ops@example.com")


def test_defaults_come_from_the_declarations(db):
    for setting in SETTINGS:
        value = settings.get(setting.key)
        assert value == (list(setting.default) if isinstance(setting.default, tuple) else setting.default)


def test_update_is_audited_and_seen_after_commit(db):
    assert settings.update(ACTOR, "audit_retention_days", "400") is True
    assert settings.get("audit_retention_days") == 365  # cached value until the change commits
    db.session.commit()
    assert settings.get("audit_retention_days") == 400
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "SETTINGS_UPDATE")).one()
    assert entry.changes == {"audit_retention_days": {"before": 365, "after": 400}}
    assert entry.resource_id == "audit_retention_days"


def test_rollback_keeps_the_old_value_and_cache(db):
    settings.get("two_factor_grace_days")
    settings.update(ACTOR, "two_factor_grace_days", 3)
    db.session.rollback()
    assert settings.get("two_factor_grace_days") == 7
    assert db.session.scalars(select(AuditLog)).all() == []


def test_unchanged_value_writes_nothing(db):
    assert settings.update(ACTOR, "audit_retention_days", "365") is False
    db.session.commit()
    assert db.session.scalars(select(AuditLog)).all() == []


@pytest.mark.parametrize(("key", "raw", "message"), [
    ("audit_retention_days", "ten", "whole number"),
    ("audit_retention_days", "29", "smallest allowed value is 30"),
    ("audit_retention_days", "99999", "largest allowed value is 3650"),
    ("audit_retention_days", True, "whole number"),
    ("backup_drill_after_create", "maybe", "yes or no"),
    ("two_factor_required_roles", ["admin", "root"], "only among the offered"),
    ("maintenance_banner", "x" * 301, "at most 300"),
    ("maintenance_banner", "line one\nline two", "Line breaks"),
])
def test_invalid_values_are_refused(db, key, raw, message):
    with pytest.raises(settings.InvalidSetting) as excinfo:
        settings.update(ACTOR, key, raw)
    assert message in str(excinfo.value)


def test_typed_conversion():
    assert settings.validate(BY_KEY["backup_drill_after_create"], "on") is True
    assert settings.validate(BY_KEY["backup_drill_after_create"], "") is False
    assert settings.validate(BY_KEY["two_factor_required_roles"], ["admin", "superadmin", "admin"]) == [
        "superadmin", "admin"]
    assert settings.validate(BY_KEY["two_factor_required_roles"], "admin") == ["admin"]
    assert settings.validate(BY_KEY["maintenance_banner"], "  Upgrade tonight  ") == "Upgrade tonight"


def test_stale_edit_is_refused(db):
    settings.update(ACTOR, "audit_retention_days", 400)
    db.session.commit()
    (state,) = [s for s in settings.current_states() if s.setting.key == "audit_retention_days"]
    assert state.version == 1 and not state.is_default
    with pytest.raises(settings.StaleSetting):
        settings.update(ACTOR, "audit_retention_days", 500)  # the editor saw the default
    settings.update(ACTOR, "audit_retention_days", 500, expected_version=1)
    db.session.commit()
    assert settings.get("audit_retention_days") == 500


def test_cache_outage_falls_back_to_the_database(db, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)
    monkeypatch.setattr(cache, "delete", down)
    settings.update(ACTOR, "two_factor_grace_days", 3)
    db.session.commit()
    assert settings.get("two_factor_grace_days") == 3


def test_a_stored_value_outside_new_bounds_falls_back_to_the_default(db):
    from app.settings.models import SystemSetting

    db.session.add(SystemSetting(key="audit_retention_days", value=5))
    db.session.commit()
    settings.clear_settings_cache()
    assert settings.get("audit_retention_days") == 365
