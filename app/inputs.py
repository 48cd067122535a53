"""The shared input layer: every query parameter, form field and JSON string passes through here.

Three pieces, each the only place its rule lives, so a new page cannot forget them:

- :func:`init_app` installs a guard that runs before every view: a control character
  (a NUL byte first of all, which PostgreSQL cannot store) or an over-long value in any
  query parameter, form field or JSON string is refused with a 400 that names the field
  (``validation_error`` for the API), before anything is read or written.
- :class:`Form` is the base of every form: a text field without its own ``Length`` gets a
  ceiling, a whole-number field a range, so no value reaches a column it cannot fit.
- Typed parsers (:func:`text`, :func:`whole_number`, :func:`day`, :func:`day_bounds`) for
  filters and the API: each returns a value or raises :class:`InvalidInput` with a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Flask, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import Length

from app.errors import render_error

# C0 and C1 controls, DEL, and lone surrogates (JSON can carry "\ud800", which no database can
# store); tab, line feed and carriage return are text in a form (a textarea).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# In a query parameter or a one-line field, line breaks of every kind are refused too.
_CONTROL_IN_QUERY = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
MAX_QUERY_VALUE = 2000  # a query parameter (a long ``next`` URL fits)
MAX_FORM_VALUE = 20_000  # any one form field; forms set their own, smaller limits
MAX_JSON_DEPTH = 32
DEFAULT_TEXT_LENGTH = 255  # a text field of a form that declares no Length of its own
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # what an INTEGER column holds
# Dates the filters accept; beyond them a bound means "no bound" (see day_bounds).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9999, 12, 30)


class InvalidInput(ValueError):
    """A value that cannot be accepted; ``message`` says why, ``field`` names the input."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message, self.field = message, field


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    """True when ``value`` holds a control character (tab and line breaks count only when not ``multiline``)."""
    return bool((_CONTROL if multiline else _CONTROL_IN_QUERY).search(value))


def without_control_characters(value: str) -> str:
    """``value`` with its control characters dropped (to show a refused value again)."""
    return _CONTROL_IN_QUERY.sub("", value)


# --- typed parsers -------------------------------------------------------------------------------

def digits(raw: str, max_length: int = 18) -> bool:
    """True for 1..``max_length`` ASCII digits (``str.isdigit`` also says yes to "²", which ``int`` refuses)."""
    return isinstance(raw, str) and 0 < len(raw) <= max_length and raw.isascii() and raw.isdigit()


def text(raw: str | None, *, max_length: int = 100, multiline: bool = False) -> str | None:
    """Trimmed text, or None when empty. Raises InvalidInput for control characters or length."""
    if has_control_characters(raw or "", multiline=multiline):  # before strip(), which eats some of them
        raise InvalidInput(_l("Remove the control characters (such as line breaks or NUL bytes)."))
    value = (raw or "").strip()
    if len(value) > max_length:
        raise InvalidInput(_l("Use at most %(n)d characters.", n=max_length))
    return value or None


def whole_number(raw: str | None, *, minimum: int = 1, maximum: int = INT_MAX) -> int | None:
    """A whole number in ``[minimum, maximum]``, or None when empty. Raises InvalidInput."""
    value = (raw or "").strip()
    if not value:
        return None
    if not digits(value[1:] if value.startswith("-") else value) or not minimum <= int(value) <= maximum:
        raise InvalidInput(_l("Enter a whole number from %(low)d to %(high)d.", low=minimum, high=maximum))
    return int(value)


def day(raw: str | None) -> date | None:
    """A calendar day typed as YYYY-MM-DD, or None when empty. Raises InvalidInput."""
    value = (raw or "").strip()
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(_l("Enter dates as YYYY-MM-DD.")) from None


def within_calendar(d: date) -> bool:
    """False for a day at the ends of the calendar, which no UTC instant can stand for."""
    return FIRST_DAY <= d <= LAST_DAY


def day_bounds(first: date | None, last: date | None, zone: str) -> tuple[datetime | None, datetime | None]:
    """Whole local days ``first``..``last`` (inclusive) as aware UTC ``[start, end)``.

    A day at the ends of the calendar (0001-01-01, 9999-12-31) has no UTC instant to stand
    for; it means "no bound", which is what the person asked for.
    """
    tz = ZoneInfo(zone)

    def midnight(d: date) -> datetime:
        return datetime.combine(d, time.min, tz).astimezone(UTC)

    start = midnight(first) if first is not None and first >= FIRST_DAY else None  # before: no bound
    end = midnight(last + timedelta(days=1)) if last is not None and last <= LAST_DAY else None  # after: none
    return start, end


_MOMENT_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def moment(raw: str | None, zone: str, *, end: bool = False) -> datetime | None:
    """A day (YYYY-MM-DD) or a local date-time (YYYY-MM-DD HH:MM[:SS], or with a T) in ``zone``,
    as aware UTC; None when empty. Raises InvalidInput.

    As the end of a range (``end``), a day means the whole day and a minute the whole minute. A
    time at the ends of the calendar means no bound (None), as in :func:`day_bounds`.
    """
    value = (raw or "").strip()
    if not value:
        return None
    try:
        local = datetime.combine(date.fromisoformat(value), time.min) if len(value) == 10 else None
        step = timedelta(days=1)
    except ValueError:
        local = None
    for pattern in () if local else _MOMENT_FORMATS:
        try:
            local = datetime.strptime(value, pattern)
        except ValueError:
            continue
        step = timedelta(seconds=1) if local.second else timedelta(minutes=1)
        break
    if local is None:
        raise InvalidInput(_l("Enter a date (YYYY-MM-DD) or a date and time."))
    if not within_calendar(local.date()):
        return None
    return (local + (step if end else timedelta())).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


# --- forms ---------------------------------------------------------------------------------------

class Form(FlaskForm):
    """The base of every form: text fields have a length ceiling, whole numbers a range.

    A field's own ``Length``/``NumberRange`` validators give the message people see; these
    checks only catch a field that declares none, so a value never overflows its column.
    """

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field, IntegerField) and field.data is not None and not INT_MIN <= field.data <= INT_MAX:
                field.errors = [*field.errors, _l("Enter a smaller number.")]
                valid = False
            elif isinstance(field, (StringField, TextAreaField, PasswordField)) and isinstance(field.data, str):
                declared = [v.max for v in field.validators if isinstance(v, Length) and v.max and v.max > 0]
                limit = min(declared) if declared else DEFAULT_TEXT_LENGTH
                if len(field.data) > limit and not field.errors:
                    field.errors = [*field.errors, _l("Use at most %(n)d characters.", n=limit)]
                    valid = False
        return valid


# --- URLs from the client ------------------------------------------------------------------------

def safe_next_url(target: str | None, fallback: str) -> str:
    """``target`` when it is a local path on this site, else ``fallback``.

    Refuses absolute URLs, scheme-relative ``//host``, backslashes, and control or
    space characters (browsers drop tabs and newlines, so a tab can hide a second slash).
    """
    if not target or any(ord(c) < 33 or c == "\x7f" for c in target):
        return fallback
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


# --- the request guard ---------------------------------------------------------------------------

def _json_strings(value, path: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    if depth > MAX_JSON_DEPTH:
        raise InvalidInput(_l("The JSON document is nested too deeply."), path or "body")
    if isinstance(value, str):
        yield path or "body", value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield path + ("." if path else "") + str(key), str(key)
            yield from _json_strings(item, path + ("." if path else "") + str(key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_strings(item, f"{path}[{index}]", depth + 1)


def _pairs(multidict) -> Iterable[tuple[str, str]]:
    for key, value in multidict.items(multi=True):
        yield key, key
        yield key, value


def check_request() -> None:
    """Refuse a request whose query, form or JSON strings hold control characters or are too long.

    Raises InvalidInput naming the field; nothing has been read or written yet.
    """
    for name, value in _pairs(request.args):
        if has_control_characters(value):
            raise InvalidInput(_l("Remove the control characters (such as NUL bytes) from “%(name)s”.",
                                  name=_printable(name)), name)
        if len(value) > MAX_QUERY_VALUE:
            raise InvalidInput(_l("“%(name)s” is too long.", name=_printable(name)), name)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    for name, value in _pairs(request.form):
        if has_control_characters(value, multiline=True) or has_control_characters(name):
            raise InvalidInput(_l("Remove the control characters (such as NUL bytes) from “%(name)s”.",
                                  name=_printable(name)), name)
        if len(value) > MAX_FORM_VALUE:
            raise InvalidInput(_l("“%(name)s” is too long.", name=_printable(name)), name)
    for name, upload in request.files.items(multi=True):
        if upload.filename and has_control_characters(upload.filename):
            raise InvalidInput(_l("Remove the control characters (such as NUL bytes) from “%(name)s”.",
                                  name=_printable(name)), name)
    if request.is_json and request.content_length:
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            raise InvalidInput(_l("The JSON document is nested too deeply."), "body") from None
        for name, value in _json_strings(body):
            if has_control_characters(value, multiline=True):
                raise InvalidInput(_l("Remove the control characters (such as NUL bytes) from “%(name)s”.",
                                      name=_printable(name)), name)


def _printable(name: str) -> str:
    return _CONTROL_IN_QUERY.sub("\N{REPLACEMENT CHARACTER}", name)[:60]


def init_app(app: Flask) -> None:
    """Check every request's values; a bad value is a 400 with the field's message."""
    app.before_request(check_request)

    @app.errorhandler(InvalidInput)
    def _invalid_input(exc: InvalidInput):
        fields = {exc.field: str(exc.message)} if exc.field else {}
        return render_error(400, exc.message, error_code="validation_error", fields=fields)
