"""One formatter each for money, moments, days and counts (app/formatting.py), and no other."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale

from app.formatting import clock, count, day, decimal_text, iso, money, money_text, when, when_text

ROOT = Path(__file__).resolve().parents[2]

# Formatting that must go through app/formatting.py instead.
TEMPLATE_FORBIDDEN = re.compile(
    r"\|\s*(datetimeformat|dateformat|timeformat|numberformat|idr|format|audit_time)\b|\.isoformat\(|\.strftime\(|\{:,\}|format_currency"
)
PYTHON_FORBIDDEN = re.compile(
    r"\b(format_currency|format_datetime|format_date|format_time|format_number|format_decimal)\b"
)
PYTHON_ALLOWED = {"app/formatting.py"}


def test_templates_format_only_through_the_shared_filters():
    stray = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if TEMPLATE_FORBIDDEN.search(line):
                stray.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert stray == []


def test_python_formats_for_people_only_through_the_formatter():
    stray = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel in PYTHON_ALLOWED:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if PYTHON_FORBIDDEN.search(line):
                stray.append(f"{rel}:{n}: {line.strip()}")
    assert stray == []


def test_money_is_locale_aware_and_never_wraps(app):
    with app.test_request_context():
        with force_locale("en"):
            assert money_text(12_500_000) == "IDR\u00a012,500,000"
            assert str(money(12_500_000)) == '<span class="money" title="IDR 12500000">IDR\u00a012,500,000</span>'
        with force_locale("id"):
            assert money_text(12_500_000) == "Rp12.500.000"
        assert money(None) == "" and money_text(None) == ""


def test_moments_and_days_carry_the_iso_value_on_hover(app):
    moment = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)
    with app.test_request_context():
        with force_locale("en"):
            html = str(when(moment, "medium"))
            assert html.startswith('<time datetime="2026-03-04T05:06:07Z" title="2026-03-04T05:06:07Z">')
            assert when_text(moment, "medium") in html
            assert 'datetime="2026-03-04T05:06:07Z"' in str(clock(moment))
            assert str(day(date(9999, 12, 31))).startswith('<time datetime="9999-12-31" title="9999-12-31">')
        assert iso(moment, precise=True) == "2026-03-04T05:06:07.000890Z"
        assert when(None) == "" and iso(None) == ""


def test_counts_get_thousands_separators(app):
    with app.test_request_context():
        with force_locale("en"):
            assert count(1234567) == "1,234,567"
        with force_locale("id"):
            assert count(1234567) == "1.234.567"
            assert decimal_text(0.2) == "0,2"


def test_dashboard_amount_does_not_wrap_and_counts_are_separated(db, make_user, client_for, make_transaction):
    make_transaction(amount_idr=123_456_789)
    html = client_for(make_user("superadmin")).get("/dashboard").get_data(as_text=True)
    amount = re.search(r'data-testid="stat-pending-amount"[^>]*>(.*?)</', html, re.S)
    assert amount and 'class="money"' in html and "123,456,789" in html


@pytest.mark.parametrize("language", ["en", "id"])
def test_the_fast_counts_money_and_days_equal_babels_own(app, language):
    """count, money_text and day_text remember per locale what babel would parse on every call:
    the text is the same as babel's, for every sign and size."""
    import random

    from babel.dates import format_date as babel_date
    from babel.numbers import format_decimal as babel_decimal

    from app import formatting

    rng = random.Random(7)
    numbers = [0, 1, -1, 999, 1000, -1000, 10**6, -(10**12), 2**63 - 1] + [rng.randrange(-10**13, 10**13)
                                                                            for _ in range(300)]
    with app.test_request_context(headers={"Accept-Language": language}), force_locale(language):
        locale = formatting._locale()
        for n in numbers:
            assert formatting.count(n) == babel_decimal(n, locale=locale)
            assert formatting.money_text(n) == formatting._babel_money_text(n, locale)
        for offset in range(0, 800, 7):
            day = date(2025, 1, 1) + timedelta(days=offset)
            for style in ("medium", "d MMM yy", "long"):
                assert formatting.day_text(day, style) == babel_date(day, style, locale=locale)
