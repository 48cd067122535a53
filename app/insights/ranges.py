"""The period an analytics page shows: a preset (the last 7, 30, 90 or 366 local days) or a custom
``from``..``to``, parsed with the shared typed parsers (app.inputs). Bad input is never an error
page: the page shows the default period and says what was wrong, next to the field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l

from app.inputs import InvalidInput, day, text, whole_number

PRESETS = (7, 30, 90, 366)
DEFAULT_DAYS = 30
MAX_DAYS = 366
INTERVALS = ("day", "week", "month")


@dataclass(frozen=True)
class Period:
    """Local days ``first``..``last`` (inclusive); ``preset`` is the number of days when one was chosen."""

    first: date
    last: date
    preset: int | None = None

    @property
    def length(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.length)]

    @property
    def key(self) -> str:
        return f"{self.first.isoformat()}_{self.last.isoformat()}"


@dataclass
class Choice:
    """What the filter bar asked for: the period, the interval, and a message per refused field."""

    period: Period
    interval: str = "day"
    errors: dict[str, str] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)  # the from/to as typed, shown again


def last_days(days: int, today: date) -> Period:
    return Period(today - timedelta(days=days - 1), today, days)


def choice_from(args: Mapping[str, str], today: date) -> Choice:
    """The period and interval of the query ``range`` | ``from`` & ``to``, and ``interval``."""
    errors: dict[str, str] = {}
    period = last_days(DEFAULT_DAYS, today)
    raw_from, raw_to = args.get("from", ""), args.get("to", "")
    interval = "day"
    try:
        interval = text(args.get("interval"), max_length=10) or "day"
        if interval not in INTERVALS:
            raise InvalidInput(_l("Choose days, weeks or months."))
    except InvalidInput as exc:
        errors["interval"], interval = str(exc.message), "day"
    if raw_from.strip() or raw_to.strip():
        try:
            first, last = _custom(raw_from, raw_to, today)
            period = Period(first, last)
        except InvalidInput as exc:
            errors[exc.field or "from"] = str(exc.message)
    else:
        try:
            days = whole_number(args.get("range"), minimum=1, maximum=MAX_DAYS)
            if days is not None and days not in PRESETS:
                raise InvalidInput(_l("Choose one of the periods offered."))
            period = last_days(days or DEFAULT_DAYS, today)
        except InvalidInput as exc:
            errors["range"] = str(exc.message)
    return Choice(period, interval, errors, {"from": raw_from[:10], "to": raw_to[:10]})


def _custom(raw_from: str, raw_to: str, today: date) -> tuple[date, date]:
    first, last = _day(raw_from, "from"), _day(raw_to, "to")
    if first is None or last is None:
        raise InvalidInput(_l("Give both the first and the last day."), "from" if first is None else "to")
    if last > today:
        raise InvalidInput(_l("The last day cannot be after today."), "to")
    if first > last:
        raise InvalidInput(_l("The first day must not be after the last day."), "from")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(_l("Choose at most %(n)d days.", n=MAX_DAYS), "from")
    return first, last


def _day(raw: str, name: str) -> date | None:
    try:
        return day(raw)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, name) from None
