"""The one CSV-injection guard (app.escaping), used by the audit export and every list export."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.escaping import csv_cell, one_line
from app.listing import csv_cell as list_cell


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\uff1d", "\uff0b", "\uff0d", "\uff20"])
def test_a_cell_that_starts_like_a_formula_gets_an_apostrophe(start):
    assert csv_cell(f"{start}SUM(A1)") == f"'{start}SUM(A1)"


def test_leading_blanks_do_not_hide_a_formula():
    assert csv_cell("   =1+1") == "'   =1+1"


def test_a_carriage_return_is_escaped_so_the_cell_stays_on_one_line():
    assert csv_cell("\r=1") == "\\r=1"
    assert csv_cell("a\r\nb") == "a\\r\\nb"
    text = one_line("a\nb\rc\x0bd\x0ce\x1cf\x85g\u2028h\u2029i")
    assert text.splitlines() == [text]


def test_numbers_and_plain_text_pass_unchanged():
    assert csv_cell(-5) == -5 and csv_cell(-2.5) == -2.5 and csv_cell(Decimal("-1")) == Decimal("-1")
    assert csv_cell("plain") == "plain" and csv_cell("a-b") == "a-b" and csv_cell(None) == ""


def test_list_exports_use_the_same_guard(app):
    with app.app_context():
        for value in ("=1", "+1", "-1", "@x", "\tx", "\uff1d1", "  =1", "a\nb"):
            assert list_cell(value) == csv_cell(value)
        assert list_cell(True) == "yes" and list_cell(-3) == -3
        assert list_cell(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T07:00:00+07:00"
