"""Stored values made safe for line-based outputs: CSV and JSON Lines exports, server logs.

The one guard every export uses (the audit log's exports and the CSV of every list page,
app.listing). Stored values hold whatever people typed (descriptions, names, user agents).
A line break inside such a value must never start a new line of an export or of a log,
where it could forge a record; a cell that starts like a formula must never be evaluated
by a spreadsheet.
"""

from __future__ import annotations

from decimal import Decimal

# Every character that str.splitlines() (and so most line-based tools) treats as a line end.
_LINE_BREAKS = {
    "\n": "\\n", "\r": "\\r", "\x0b": "\\v", "\x0c": "\\f", "\x1c": "\\x1c", "\x1d": "\\x1d",
    "\x1e": "\\x1e", "\x85": "\\x85", "\u2028": "\\u2028", "\u2029": "\\u2029",
}
_LINE_BREAK_TABLE = str.maketrans(_LINE_BREAKS)
# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection");
# the full-width forms are read as formulas by some spreadsheet versions too.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def one_line(value: object) -> str:
    """``value`` as text with every line-breaking character written as a visible escape."""
    return str(value).translate(_LINE_BREAK_TABLE)


def csv_cell(value: object) -> str | int | float | Decimal:
    """A value ready for a CSV (or spreadsheet) cell: on one line, and never read as a formula.

    Numbers stay numbers (a negative amount is not a formula); text whose first non-blank
    character could start a formula (``= + - @``, tab, carriage return, or their full-width
    forms) gets a leading apostrophe.
    """
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    text = one_line(value)
    if text.lstrip(" ").startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def json_line(text: str) -> str:
    """A JSON document (already on one line) with the Unicode line separators escaped too.

    ``json.dumps(..., ensure_ascii=False)`` escapes CR and LF but leaves U+2028/U+2029
    (and U+0085) as they are; line-based readers would split on them.
    """
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")
