"""How an access export's values become JSON text and CSV lines, a column of a batch at a time.

An export writes tens of thousands of records, each twice. Working a column at a time lets the
common columns go through C code whole (one check over a column's joined text, ``map`` over
the JSON string encoder, ``str.join`` for the lines) instead of Python calls per value; a value
that is not plain text or a whole number, or a column where one value needs escaping, takes
the general path value by value. Either way the result is what ``json.dumps(record,
ensure_ascii=False)``, ``app.escaping.csv_cell`` and ``csv.writer`` give
(tests/unit/test_privacy_export_cells.py compares them on awkward values).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from json.encoder import c_make_encoder, encode_basestring
from operator import itemgetter

from app.escaping import csv_cell

_NONE = type(None)
_TEXT, _TEXT_OR_NONE = {str}, {str, _NONE}
_WHOLE, _WHOLE_OR_NONE = {int}, {int, _NONE}
_PLAIN_NUMBERS = {int, float, _NONE}  # the CSV writer writes these as csv_cell leaves them
# Text starting with one of these is a cell csv_cell changes (the formula guard; a blank may
# hide a formula behind it).
_GUARDED_START = frozenset("=+-@ \uff1d\uff0b\uff0d\uff20")
_first = itemgetter(0)


def json_value(value):
    """A value as JSON holds it: times in ISO 8601 (UTC), everything else as it is."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _times(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encoder(default, sort_keys: bool):
    """``json.dumps(value, ensure_ascii=False, default=default, sort_keys=sort_keys)``, made once.

    json.dumps (and JSONEncoder.encode) builds the C encoder again at every call, which costs
    more than encoding a value; this keeps one. Without the C accelerator, the plain encoder.
    """
    if c_make_encoder is None:
        return json.JSONEncoder(ensure_ascii=False, default=default, sort_keys=sort_keys).encode
    make = c_make_encoder({}, default, encode_basestring, None, ": ", ", ", sort_keys, False, True)
    return lambda value: "".join(make(value, 0))


def _not_json(value):
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


json_text = _encoder(_times, sort_keys=False)
_structured_cell = _encoder(_not_json, sort_keys=True)


def json_texts(column: Sequence) -> list[str]:
    """Each value of ``column`` as JSON text (as it appears inside a record)."""
    kinds = set(map(type, column))
    if kinds == _TEXT:
        return list(map(encode_basestring, column))
    if kinds <= _TEXT_OR_NONE:
        return ["null" if value is None else encode_basestring(value) for value in column]
    if kinds <= _WHOLE_OR_NONE:
        return ["null" if value is None else int.__repr__(value) for value in column]
    return ["null" if value is None else json_text(value) for value in column]


# What the JSON string encoder escapes: quotes, backslashes and control characters.
_ESCAPED = re.compile(r'[\x00-\x1f"\\]')


def json_objects(keys: Sequence[str], columns: Sequence[Sequence]) -> Iterator[str]:
    """The records of a batch given column by column, each as ``json.dumps(dict(zip(keys, values)),
    ensure_ascii=False)`` writes it. Text the encoder would not change (no quote, backslash or
    control character in the whole column) and whole numbers go into the text as they are."""
    fields, values = [], []
    for key, column in zip(keys, columns, strict=True):
        kinds = set(map(type, column))
        if kinds == _TEXT and not _ESCAPED.search("".join(column)):
            field, column = '"%s"', column
        elif kinds == _WHOLE:
            field = "%s"
        else:
            field, column = "%s", json_texts(column)
        fields.append(encode_basestring(key).replace("%", "%%") + ": " + field)
        values.append(column)
    return map(("{" + ", ".join(fields) + "}").__mod__, zip(*values, strict=True))


def csv_value(value):
    """A value as its CSV cell: structured values as JSON text, booleans as true/false, times in
    ISO 8601, everything else through app.escaping.csv_cell."""
    value = json_value(value)
    if isinstance(value, (dict, list)):
        return _structured_cell(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return csv_cell(value)


def csv_cells(column: Sequence) -> Sequence:
    """The CSV cells of ``column``: the column itself where no value needs changing (numbers,
    None, and printable text, so holding no line break, none starting like a formula), else
    each value through :func:`csv_value`."""
    kinds = set(map(type, column))
    if kinds <= _PLAIN_NUMBERS:
        return column
    if kinds <= _TEXT_OR_NONE:
        texts = list(filter(None, column))
        if "".join(texts).isprintable() and _GUARDED_START.isdisjoint(map(_first, texts)):
            return column
    return [None if value is None else csv_value(value) for value in column]


def _fields(cells: Sequence) -> Sequence[str]:
    """The text of each cell as the CSV writer writes it (None empty, floats by repr), quoted
    where it must be."""
    kinds = set(map(type, cells))
    if kinds == _TEXT:
        texts = cells
    elif kinds <= _TEXT_OR_NONE:
        texts = ["" if cell is None else cell for cell in cells]
    else:
        texts = ["" if cell is None else repr(cell) if isinstance(cell, float) else str(cell) for cell in cells]
    joined = "".join(texts)
    if not ("," in joined or '"' in joined or "\r" in joined or "\n" in joined):
        return texts
    return ['"' + text.replace('"', '""') + '"' if "," in text or '"' in text or "\r" in text or "\n" in text
            else text for text in texts]


def csv_text(columns: Sequence[Sequence]) -> str:
    """The CSV lines of a batch given column by column (cells from :func:`csv_cells`), as
    ``csv.writer(lineterminator="\\r\\n").writerows`` writes them: fields quoted when they hold
    a comma, a quote or a line end (quotes doubled)."""
    if len(columns) == 1:  # the writer quotes a lone empty field: let it
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows([cell] for cell in columns[0])
        return buffer.getvalue()
    return "\r\n".join(map(",".join, zip(*map(_fields, columns), strict=True))) + "\r\n"
