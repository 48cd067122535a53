"""The settings edit form: one declared setting, shown and read according to its kind."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField
from wtforms.validators import Optional
from wtforms.widgets import HiddenInput

from app.inputs import Form, digits
from app.settings.definitions import Kind, Setting
from app.settings.services import InvalidSetting


class SettingForm(Form):
    """CSRF and the version the editor saw; the value is read by :func:`submitted_value`."""

    version = IntegerField(widget=HiddenInput(), validators=[Optional()])


def minutes_bounds(setting: Setting) -> tuple[int | None, int | None]:
    return (None if setting.minimum is None else setting.minimum // 60,
            None if setting.maximum is None else setting.maximum // 60)


def submitted_value(setting: Setting, form: MultiDict):
    """The raw value for ``services.validate`` (durations are typed in minutes, stored in seconds)."""
    if setting.kind is Kind.MULTICHOICE:
        return form.getlist("value")
    if setting.kind is Kind.BOOLEAN:
        return form.get("value", "false")
    raw = form.get("value", "")
    if setting.kind is Kind.DURATION:
        text = raw.strip()
        if not digits(text, 6):
            raise InvalidSetting(_l("Enter a whole number of minutes."))
        low, high = minutes_bounds(setting)
        if (low is not None and int(text) < low) or (high is not None and int(text) > high):
            raise InvalidSetting(_l("Enter between %(low)s and %(high)s minutes.", low=low, high=high))
        return int(text) * 60
    return raw


def shown_value(setting: Setting, value):
    """What the form field shows for a stored value."""
    if setting.kind is Kind.DURATION:
        return value // 60
    return value
