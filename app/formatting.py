"""The one place that formats money, moments, days and counts for people to read.

Everything is locale-aware through Flask-Babel (English and Indonesian) and shown in the
display time zone. Templates use the filters registered here:

- ``amount|money``: whole rupiah (``IDR 1,500,000`` / ``Rp1.500.000``) that never wraps;
- ``moment|when("short"|"medium"|"full")``: a ``<time>`` whose ``datetime`` and hover
  ``title`` hold the exact ISO 8601 value; ``|clock`` for the time of day only;
- ``day|day("medium")``: a calendar date, the same way;
- ``n|count``: a whole number with the locale's thousands separators; ``x|decimal`` a decimal one;
- ``ratio|percent``: a share (0.5 -> ``50%``, one decimal); ``seconds|duration``: a rounded
  duration in words (``3 hours`` / ``3 jam``);
- ``*_text`` variants give plain text for attributes, SVG titles and flash messages.

A unit test (tests/unit/test_formatting.py) keeps other formatting out of the templates.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, get_group_symbol
from babel.numbers import format_decimal as format_decimal_babel
from babel.numbers import format_percent as format_percent_babel
from flask import Flask
from flask_babel import (
    format_date,
    format_datetime,
    format_decimal,
    format_percent,
    format_time,
    format_timedelta,
    get_locale,
    get_timezone,
)
from markupsafe import Markup


def _locale() -> Locale:
    return get_locale() or Locale.parse("en")


def _babel_money_text(amount: int, locale: Locale) -> str:
    pattern = locale.currency_formats["standard"].pattern.replace(".00", "")
    text = format_currency(amount, "IDR", format=pattern, locale=locale, currency_digits=False)
    # A letter code ("IDR") is set apart from the digits; no space may break the amount.
    text = re.sub(r"^([A-Z]{3})(?=[\d-])", "\\1\u00a0", text)
    return text.replace(" ", "\u00a0")


@lru_cache(maxsize=32)
def _money_shape(locale_name: str) -> tuple[tuple[str, str], tuple[str, str], str] | None:
    """The text around the digits of a positive and a negative amount, and the grouping symbol, as
    babel writes them in ``locale_name`` (None when its digits are not grouped by threes)."""
    locale = Locale.parse(locale_name)
    group = get_group_symbol(locale)
    shapes = []
    for sample in (1234567, -1234567):
        text = _babel_money_text(sample, locale)
        digits = f"1{group}234{group}567"
        if text.count(digits) != 1:
            return None
        before, after = text.split(digits)
        shapes.append((before, after))
    return shapes[0], shapes[1], group


def money_text(amount: int | None) -> str:
    """Whole rupiah in the current locale's currency pattern (``Rp1.500.000`` in Indonesian)."""
    if amount is None:
        return ""
    locale = _locale()
    shape = _money_shape(str(locale)) if isinstance(amount, int) else None
    if shape is None:
        return _babel_money_text(amount, locale)
    return _shaped(amount, shape)


def _shaped(amount: int, shape: tuple[tuple[str, str], tuple[str, str], str]) -> str:
    (before, after), (neg_before, neg_after), group = shape
    digits = f"{abs(amount):,}".replace(",", group)  # babel's own text, built once per locale (a list formats many)
    return f"{before}{digits}{after}" if amount >= 0 else f"{neg_before}{digits}{neg_after}"


def money(amount: int | None) -> Markup:
    """:func:`money_text` in a span that never wraps; the hover shows the plain number."""
    if amount is None:
        return Markup("")
    # Markup's % escapes its arguments as .format does, at about half the cost (a list page formats an
    # amount and a moment on every row).
    return Markup('<span class="money" title="IDR %s">%s</span>') % (amount, money_text(amount))


def iso(moment: datetime | date | None, precise: bool = False) -> str:
    """The exact ISO 8601 value (UTC for moments), for ``datetime`` attributes and hovers;
    ``precise`` keeps the microseconds (the audit log's order)."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.isoformat(timespec="microseconds" if precise else "seconds").replace("+00:00", "Z")
    return moment.isoformat()


def when_text(moment: datetime | None, style: str = "medium") -> str:
    """A date and time in the reader's language and the display time zone; style ``exact`` is
    ``YYYY-MM-DD HH:MM:SS`` in the display zone (long lists where order must be unambiguous)."""
    if moment is None:
        return ""
    if style == "exact":
        return moment.astimezone(get_timezone()).strftime("%Y-%m-%d %H:%M:%S")
    return format_datetime(moment, style)


def clock_text(moment: datetime | None, style: str = "short") -> str:
    """The time of day only."""
    return "" if moment is None else format_time(moment, style)


def day_text(day: date | None, style: str = "medium") -> str:
    """A calendar date (a ``date``, or the display-zone day of a ``datetime``)."""
    if day is None:
        return ""
    if not isinstance(day, datetime):  # a calendar day reads the same in every zone: remembered per locale
        return _day_text(day, style, str(_locale()))
    return format_date(day, style)


@lru_cache(maxsize=8192)
def _day_text(day: date, style: str, _locale_name: str) -> str:
    return format_date(day, style)


def _time_tag(moment, text: str) -> Markup:
    value = iso(moment)
    return Markup('<time datetime="%s" title="%s">%s</time>') % (value, value, text)


def when(moment: datetime | None, style: str = "medium") -> Markup:
    """:func:`when_text` in a ``<time>`` element with the ISO value on hover."""
    return Markup("") if moment is None else _time_tag(moment, when_text(moment, style))


def clock(moment: datetime | None, style: str = "short") -> Markup:
    """:func:`clock_text` in a ``<time>`` element with the ISO value on hover."""
    return Markup("") if moment is None else _time_tag(moment, clock_text(moment, style))


def day(value: date | None, style: str = "medium") -> Markup:
    """:func:`day_text` in a ``<time>`` element with the ISO date on hover."""
    return Markup("") if value is None else _time_tag(value, day_text(value, style))


def count(n: int | float | None) -> str:
    """A count with the locale's thousands separators (``12,345`` / ``12.345``)."""
    if n is None:
        return ""
    if isinstance(n, int) and not isinstance(n, bool):
        group = _group_of(str(_locale()))
        if group is not None:  # babel's grouping by threes, without parsing its pattern on every number
            return f"{n:,}".replace(",", group)
    return format_decimal(n)


@lru_cache(maxsize=32)
def _group_of(locale_name: str) -> str | None:
    """The grouping symbol of ``locale_name`` when babel groups whole numbers by threes, else None."""
    locale = Locale.parse(locale_name)
    group = get_group_symbol(locale)
    return group if format_decimal_babel(-1234567, locale=locale) == f"-1{group}234{group}567" else None


def decimal_text(value: float) -> str:
    """A decimal number in the reader's format (``1.5`` / ``1,5``)."""
    return format_decimal(value)


PERCENT_PATTERN = "#,##0.#%"


def percent(ratio: float | None) -> str:
    """A share as a percentage with at most one decimal (empty when unknown)."""
    return "" if ratio is None else format_percent(ratio, PERCENT_PATTERN)


@lru_cache(maxsize=8192)
def _percent_text(ratio: float, locale_name: str) -> str:
    return format_percent_babel(ratio, PERCENT_PATTERN, locale=Locale.parse(locale_name))


def duration(seconds: float | None) -> str:
    """A duration in seconds as rounded words (``3 hours``), empty when unknown."""
    return "" if seconds is None else format_timedelta(timedelta(seconds=seconds), threshold=1.1)


class TableFormat:
    """:func:`count`, :func:`money`, :func:`percent`, :func:`day` and :func:`day_text` with the locale
    looked up once, for tables and charts of hundreds of cells (``{% set f = table_format() %}`` then
    ``f.count(n)``); the same text as the filters."""

    def __init__(self) -> None:
        self.locale_name = str(_locale())
        self.group = _group_of(self.locale_name)

    def count(self, n: int | float | None) -> str:
        if isinstance(n, int) and not isinstance(n, bool) and self.group is not None:
            return f"{n:,}".replace(",", self.group)
        return count(n)

    def money(self, amount: int | None) -> Markup:
        shape = _money_shape(self.locale_name) if isinstance(amount, int) and not isinstance(amount, bool) else None
        if shape is None:
            return money(amount)
        return Markup('<span class="money" title="IDR %s">%s</span>') % (amount, _shaped(amount, shape))

    def percent(self, ratio: float | None) -> str:
        return "" if ratio is None else _percent_text(ratio, self.locale_name)

    def day_text(self, value: date | None, style: str = "medium") -> str:
        if value is None or isinstance(value, datetime):
            return day_text(value, style)
        return _day_text(value, style, self.locale_name)

    def day(self, value: date | None, style: str = "medium") -> Markup:
        return Markup("") if value is None else _time_tag(value, self.day_text(value, style))


FILTERS = {
    "money": money, "money_text": money_text, "when": when, "when_text": when_text, "clock": clock,
    "clock_text": clock_text, "day": day, "day_text": day_text, "count": count, "decimal": decimal_text, "iso": iso,
    "percent": percent, "duration": duration,
}


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals["table_format"] = TableFormat
