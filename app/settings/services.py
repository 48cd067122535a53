"""Typed system settings: read (cached), validate, change (audited).

Values are cached in the shared cache (Redis in production), so every worker and
host sees a change as soon as :func:`clear_settings_cache` runs after the commit.
If the cache is unreachable the database answers: slower, never broken.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.audit import services as audit
from app.audit.models import AuditAction, AuditLog
from app.database import after_commit
from app.extensions import cache, db
from app.security.actor import Actor
from app.settings.definitions import BY_KEY, Kind, Setting
from app.settings.models import SystemSetting

CACHE_KEY = "settings:values:v1"
_REQUEST_KEY = "_settings_values"
CACHE_SECONDS = 300
log = logging.getLogger(__name__)


class InvalidSetting(ValueError):
    """A value does not fit its declaration; the message is safe to show."""


class StaleSetting(Exception):
    """The setting changed since the form was loaded."""

    def __init__(self, key: str, updated_at: datetime | None):
        super().__init__(key)
        self.key = key
        self.updated_at = updated_at


def _stored_values() -> dict[str, object]:
    # Read once per request: a page asks for several settings (policy, banner), each a Redis read otherwise.
    if has_request_context() and _REQUEST_KEY in g:
        return g.get(_REQUEST_KEY)
    values = _shared_values()
    if has_request_context():
        setattr(g, _REQUEST_KEY, values)
    return values


def _shared_values() -> dict[str, object]:
    try:
        cached = cache.get(CACHE_KEY)
    except Exception:  # a cache outage must not take the portal down
        log.warning("settings cache unreachable; reading the database", exc_info=True)
        cached = None
    if cached is not None:
        return cached
    values = dict(db.session.execute(select(SystemSetting.key, SystemSetting.value)).all())
    try:
        cache.set(CACHE_KEY, values, timeout=CACHE_SECONDS)
    except Exception:
        log.warning("settings cache unreachable; value not cached", exc_info=True)
    return values


def clear_settings_cache() -> None:
    """Forget the cached values (every worker re-reads the database on next use)."""
    _forget_request_copy()
    try:
        cache.delete(CACHE_KEY)
    except Exception:
        log.warning("settings cache unreachable; could not clear it", exc_info=True)


def _forget_request_copy() -> None:
    if has_request_context():
        g.pop(_REQUEST_KEY, None)


def get(key: str):
    """The current value of a declared setting (its default when never changed)."""
    setting = BY_KEY[key]
    stored = _stored_values().get(key)
    if stored is None:
        return _copy(setting.default)
    try:
        return validate(setting, stored)
    except InvalidSetting:  # a declaration tightened since the value was stored
        log.warning("stored value of %s no longer valid; using the default", key)
        return _copy(setting.default)


def _copy(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def validate(setting: Setting, raw) -> object:
    """Convert ``raw`` (a form string or a stored value) to the setting's type; raises InvalidSetting."""
    if setting.kind in (Kind.INTEGER, Kind.DURATION):
        if isinstance(raw, bool):
            raise InvalidSetting(_l("Enter a whole number."))
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise InvalidSetting(_l("Enter a whole number.")) from None
        if setting.minimum is not None and value < setting.minimum:
            raise InvalidSetting(_l("The smallest allowed value is %(n)s.", n=setting.minimum))
        if setting.maximum is not None and value > setting.maximum:
            raise InvalidSetting(_l("The largest allowed value is %(n)s.", n=setting.maximum))
        return value
    if setting.kind is Kind.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"true", "1", "yes", "on", "y"}:
            return True
        if text in {"false", "0", "no", "off", "n", ""}:
            return False
        raise InvalidSetting(_l("Choose yes or no."))
    allowed = {value for value, _label in setting.choices}
    if setting.kind is Kind.CHOICE:
        if str(raw) not in allowed:
            raise InvalidSetting(_l("Choose one of the offered values."))
        return str(raw)
    if setting.kind is Kind.MULTICHOICE:
        values = [raw] if isinstance(raw, str) else list(raw)
        if any(str(v) not in allowed for v in values):
            raise InvalidSetting(_l("Choose only among the offered values."))
        return sorted({str(v) for v in values}, key=[v for v, _ in setting.choices].index)
    text = str(raw)
    if len(text) > setting.max_length:
        raise InvalidSetting(_l("Use at most %(n)d characters.", n=setting.max_length))
    if any(ord(c) < 32 and c not in "\t" for c in text):
        raise InvalidSetting(_l("Line breaks and control characters are not allowed."))
    return text.strip()


@dataclass(frozen=True)
class SettingState:
    setting: Setting
    value: object
    is_default: bool
    updated_at: datetime | None
    updated_by_id: int | None
    version: int | None


def current_states() -> list[SettingState]:
    """Every declared setting with its value and who last changed it (for the settings page)."""
    rows = {row.key: row for row in db.session.scalars(select(SystemSetting))}
    states = []
    for key, setting in BY_KEY.items():
        row = rows.get(key)
        states.append(SettingState(setting, get(key), row is None, row.updated_at if row else None,
                                   row.updated_by_id if row else None, row.version if row else None))
    return states


def update(actor: Actor, key: str, raw, *, expected_version: int | None = None) -> bool:
    """Change one setting (audited SETTINGS_UPDATE with before/after); False when unchanged.

    ``expected_version`` is the version the editor saw (None: it saw the default, never
    stored). Raises InvalidSetting, or StaleSetting when someone changed it meanwhile.
    """
    setting = BY_KEY[key]
    value = validate(setting, raw)
    row = db.session.get(SystemSetting, key, with_for_update=True)
    current_version = row.version if row else None
    if expected_version != current_version:
        raise StaleSetting(key, row.updated_at if row else None)
    before = get(key)
    if value == before:
        return False
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(SystemSetting(key=key, value=value, updated_by_id=actor.user_id))
        except IntegrityError:  # someone stored it first, a moment ago
            raise StaleSetting(key, None) from None
    else:
        row.value = value
        row.updated_by_id = actor.user_id
        db.session.flush()
    _forget_request_copy()
    audit.log(actor, AuditAction.SETTINGS_UPDATE, resource_type="setting", resource_id=key,
              resource_repr=str(setting.label), description=f"Changed setting {key}",
              changes={key: {"before": before, "after": value}})
    after_commit(clear_settings_cache)
    return True


def history_query(key: str | None = None):
    """SETTINGS_UPDATE audit entries, optionally of one setting (for keyset pages)."""
    query = select(AuditLog).where(AuditLog.action == AuditAction.SETTINGS_UPDATE.value)
    if key is not None:
        query = query.where(AuditLog.resource_type == "setting", AuditLog.resource_id == key)
    return query


def recent_changes(key: str, limit: int = 10) -> list[AuditLog]:
    """The newest recorded changes of one setting."""
    newest = (AuditLog.created_at.desc(), AuditLog.id.desc())
    return list(db.session.scalars(history_query(key).order_by(*newest).limit(limit)))


def changed_by(key: str):
    """The user who stored the current value of setting ``key`` (None when unknown or deleted)."""
    row = db.session.get(SystemSetting, key)
    return row.updated_by if row is not None else None
