"""The export's column-at-a-time encoding gives exactly what encoding each record on its own gives:
``json.dumps(record, ensure_ascii=False)`` for the JSON file and ``app.escaping.csv_cell`` (with
structured values as sorted JSON and booleans as true/false) for the CSV file."""

from __future__ import annotations

import csv
import enum
import io
import json
import random
from datetime import UTC, date, datetime
from decimal import Decimal

from app.escaping import csv_cell
from app.privacy.export_cells import csv_cells, csv_text, json_objects
from app.privacy.export_zip import ExportWriter


class Colour(enum.StrEnum):
    RED = "red"


AWKWARD = [
    None, "", " ", "plain", "Wulan Sari <wulan@contoh.co.id>", "=SUM(A1)", "+62 812 3456", "-5", "@home", " =1+1",
    "  +1", "\uff1dcmd", "\uff0b1", "\uff0d1", "\uff20x", "\tx", "\rx", "a\nb", "a\r\nb", "a\x0bb", "a\x0cb",
    "a\x1cb", "a\x85b", "a\u2028b", "a\u2029b", "line\n=formula", "quote \" inside", "comma, inside", "back\\slash",
    "ünïcødé 名前", "emoji 🙂", "\x00nul", "\x7fdel", "%s percent %d", "{\"json\": 1}", 0, 1, -1, 10**20, 1.5,
    float("nan"), float("inf"), True, False, Decimal("1.50"), Colour.RED, {"b": 1, "a": ["x", None, "=y"]},
    [1, "two", {"three": 3}], {}, [], datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), date(2025, 1, 2),
]


def reference_json(columns, row) -> str:
    values = [v.isoformat() if isinstance(v, (datetime, date)) else v for v in row]
    return json.dumps(dict(zip(columns, values, strict=True)), ensure_ascii=False)


def reference_cell(value):
    if isinstance(value, (datetime, date)):
        value = value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return csv_cell(value)


def reference_csv(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([[reference_cell(v) for v in row] for row in rows])
    return buffer.getvalue()


def encoded(columns, rows, *, as_json: bool = True) -> tuple[list[str], str]:
    objects = []
    if as_json:
        objects = list(json_objects(columns, list(zip(*rows, strict=True))))
    return objects, csv_text([csv_cells(column) for column in zip(*rows, strict=True)])


def test_every_awkward_value_in_every_kind_of_column():
    json_encodable = [v for v in AWKWARD if not isinstance(v, Decimal)]
    columns = ("id", "value", "%other")
    # Each value alone in a column of its own kind, and mixed with the others.
    rows = [(n, value, "text") for n, value in enumerate(json_encodable)]
    rows += [(n, "plain", value) for n, value in enumerate(json_encodable)]
    objects, cells = encoded(columns, rows)
    assert objects == [reference_json(columns, row) for row in rows]
    assert cells == reference_csv(rows)
    for value in AWKWARD:
        single = [(1, value, None)]
        assert encoded(columns, single, as_json=False)[1] == reference_csv(single), value
        if not isinstance(value, Decimal):  # not JSON: the export never holds one
            assert encoded(columns, single)[0] == [reference_json(columns, single[0])], value


def test_random_columns_of_text_numbers_and_none():
    rng = random.Random(4)
    pieces = ["a", "B", " ", "=", "+", "-", "@", "\n", "\r", "\u2028", "é", "\"", ",", "\uff1d", "7", "~", "\x00",
              "\\", "\x1f", "\x7f", "%"]
    for _round in range(200):
        with_none = rng.random() < 0.5  # a column with None takes another way than one of text alone
        rows = [(rng.randint(-5, 5) if not with_none or rng.random() < 0.5 else None,
                 None if with_none and rng.random() < 0.2 else
                 "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4))))
                for _ in range(rng.randint(1, 6))]
        objects, cells = encoded(("n", "text"), rows)
        assert objects == [reference_json(("n", "text"), row) for row in rows], rows
        assert cells == reference_csv(rows), rows


def test_a_single_column():
    rows = [("",), (None,), ("a,b",), ("=1",), (3,)]
    assert encoded(("only",), rows)[1] == reference_csv(rows)


def test_a_dataset_written_in_batches_equals_one_written_record_by_record(tmp_path):
    columns = ("id", "value", "more")
    rows = [(n, value, {"n": n}) for n, value in enumerate(v for v in AWKWARD if not isinstance(v, Decimal))]
    writer = ExportWriter(tmp_path / "a.zip")
    with writer.dataset("batched", columns) as dataset:
        dataset.write_rows(rows[:7])
        dataset.write_columns([list(column) for column in zip(*rows[7:], strict=True)])
    with writer.dataset("single", columns) as dataset:
        for row in rows:
            dataset.write(dict(zip(columns, row, strict=True)))
    batched, single = (writer.staging / "batched.json").read_bytes(), (writer.staging / "single.json").read_bytes()
    assert batched == single
    assert json.loads(batched) == json.loads("[" + ",".join(reference_json(columns, r) for r in rows) + "]")
    assert (writer.staging / "batched.csv").read_bytes() == (writer.staging / "single.csv").read_bytes()
    assert (writer.staging / "batched.csv").read_bytes().decode("utf-8") == (
        "id,value,more\r\n" + reference_csv(rows))
    writer.abort()
