"""Parsing the audit log's filters from the URL (its list declaration), and the text-safety helpers."""

from datetime import UTC, datetime

import pytest
from werkzeug.datastructures import MultiDict

from app.audit.display import approximate, change_rows
from app.audit.lists import AUDIT_LOG, DEFAULT_PAGE_SIZE, filter_of
from app.escaping import csv_cell, json_line, one_line


@pytest.fixture
def parse(app):
    def do(**args):
        data = MultiDict()
        for key, value in args.items():
            for item in value if isinstance(value, list) else [value]:
                data.add(key, item)
        with app.test_request_context():
            state = AUDIT_LOG.state(data)
            return filter_of(state), state.errors

    return do


def test_an_empty_query_is_an_empty_filter(parse):
    f, errors = parse()
    assert errors == {} and f.is_empty and f.summary() == "no filter" and f.query_args() == {}


def test_every_field_is_parsed_and_kept_for_the_url(parse):
    f, errors = parse(q="  Budi  TRX-2026 budi ", actor="Ops@Example.com", action=["LOGIN_FAILURE", "USER_UPDATE"],
                      resource_type="customer", resource_id="17", since="2026-01-31", until="2026-02-01 08:30",
                      result="failure", ip="2001:0db8::0001", impersonated="1", request_id="abc-123")
    assert errors == {}
    assert f.terms == ("budi", "trx-2026") and f.actor_email == "ops@example.com"
    assert f.actions == ("LOGIN_FAILURE", "USER_UPDATE") and (f.resource_type, f.resource_id) == ("customer", "17")
    # Asia/Jakarta is UTC+7; an end date at a minute covers that whole minute.
    assert f.since == datetime(2026, 1, 30, 17, 0, tzinfo=UTC)
    assert f.until == datetime(2026, 2, 1, 1, 31, tzinfo=UTC)
    assert f.result == "failure" and f.ip == "2001:db8::1" and f.impersonated and f.request_id == "abc-123"
    args = f.query_args()
    assert args["action"] == ["LOGIN_FAILURE", "USER_UPDATE"] and args["q"] == "Budi  TRX-2026 budi"
    assert "action=LOGIN_FAILURE,USER_UPDATE" in f.summary()


def test_an_end_date_means_the_whole_day_and_seconds_are_kept(parse):
    f, _ = parse(since="2026-03-01T10:00:15", until="2026-03-01")
    assert f.since == datetime(2026, 3, 1, 3, 0, 15, tzinfo=UTC)
    assert f.until == datetime(2026, 3, 1, 17, 0, tzinfo=UTC)


def test_an_actor_number_means_the_user_id(parse):
    assert parse(actor="#42")[0].actor_id == 42
    assert parse(actor_id="7")[0].actor_id == 7


@pytest.mark.parametrize(("args", "field"), [
    ({"q": "ab"}, "q"),
    ({"q": "one two three four five six"}, "q"),
    ({"q": "line\nbreak"}, "q"),
    ({"q": "x" * 201}, "q"),
    ({"actor_id": "seven"}, "actor_id"),
    ({"action": ["drop table"]}, "action"),
    ({"resource_type": "Customer"}, "resource_type"),
    ({"resource_id": "5"}, "resource_id"),
    ({"since": "31/01/2026"}, "since"),
    ({"since": "2026-02-02", "until": "2026-02-01"}, "until"),
    ({"result": "maybe"}, "result"),
    ({"ip": "999.1.1.1"}, "ip"),
    ({"request_id": "has spaces"}, "request_id"),
])
def test_bad_input_is_named_and_not_applied(parse, args, field):
    f, errors = parse(**args)
    assert set(errors) == {field}
    assert field not in f.query_args()


def test_page_size_is_one_of_the_offered_sizes(app):
    with app.app_context():
        assert AUDIT_LOG.page_size("100") == 100
        assert AUDIT_LOG.page_size("7") == AUDIT_LOG.page_size("x") == AUDIT_LOG.page_size(None) == DEFAULT_PAGE_SIZE


@pytest.mark.parametrize(("value", "expected"), [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
    ("+1+2", "'+1+2"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tcmd", "'\tcmd"),
    ("  =1+1", "'  =1+1"), ("\uff1d1+1", "'\uff1d1+1"),
    ("line one\r\nline two", "line one\\r\\nline two"), ("\r=1", "'\\r=1"[1:]), ("ok", "ok"), (None, ""),
])
def test_csv_cells_are_single_line_and_never_formulas(value, expected):
    assert csv_cell(value) == expected


def test_numbers_stay_numbers_and_every_line_break_is_escaped():
    assert csv_cell(-5) == -5 and csv_cell(True) == "True"
    text = one_line("a\nb\rc\x0bd\x0ce\x1cf\x85g\u2028h\u2029i")
    assert text.splitlines() == [text]
    assert json_line('{"a":"x\u2028y\u2029z\x85"}').splitlines() == ['{"a":"x\\u2028y\\u2029z\\u0085"}']


def test_change_rows_show_before_and_after_or_a_recorded_value():
    rows = change_rows({"status": {"before": "pending", "after": "approved"}, "head_id": 7,
                        "tags": {"before": ["a"], "after": None}, "flag": {"after": True}})
    assert [(r.field, r.before, r.after, r.is_diff) for r in rows] == [
        ("flag", None, "true", True), ("head_id", None, "7", False), ("status", "pending", "approved", True),
        ("tags", '["a"]', None, True)]
    assert change_rows(None) == [] and change_rows(["x"])[0].after == '["x"]'


def test_estimates_are_rounded_to_two_digits():
    assert [approximate(n) for n in (0, 999, 1234, 98765, 10_444_444)] == [0, 999, 1200, 99000, 10_000_000]
