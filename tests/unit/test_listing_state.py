"""The list pattern's state: repeated parameters, check boxes, two-parameter filters with their
cross-checks, values fixed by the URL path, and page sizes chosen per list."""

from datetime import UTC, datetime

import pytest
from werkzeug.datastructures import MultiDict

from app.audit.models import AuditLog
from app.inputs import InvalidInput
from app.listing import (
    ChoiceFilter,
    Filter,
    FlagFilter,
    ListDefinition,
    MomentRangeFilter,
    MultiFilter,
    SortOption,
)


class Upper(MultiFilter):
    def clean(self, text):
        if not text.isupper():
            raise InvalidInput(f"Not upper case: {text}")
        return text


LIST = ListDefinition(
    filters=[Filter("q", "Search"), Upper("tag", "Tags"), ChoiceFilter("kind", "Kind", (("a", "A"), ("b", "B"))),
             MomentRangeFilter("time", "When", ("since", "until"), ("From", "Until")),
             FlagFilter("mine", "Only mine"), Filter("owner", "Owner")],
    sorts=[SortOption("id", "Id", (AuditLog.id,))],
    default_sort="id",
    page_sizes=(10, 20),
    default_size=20,
)


def state(app, fixed=None, **args):
    data = MultiDict()
    for key, value in args.items():
        for item in value if isinstance(value, list) else [value]:
            data.add(key, item)
    with app.test_request_context():
        return LIST.state(data, fixed=fixed)


def test_a_repeated_parameter_gives_a_tuple_in_order_without_repeats(app):
    got = state(app, tag=["B", " A ", "", "B"])
    assert got.values["tag"] == ("B", "A") and got.raw["tag"] == ["B", " A ", "", "B"] and not got.errors
    assert got.query_args() == {"tag": ["B", "A"]}
    wrong = state(app, tag=["A", "b"])
    assert wrong.values["tag"] is None and wrong.errors == {"tag": "Not upper case: b"}
    assert "tag" not in wrong.query_args()
    assert state(app).values["tag"] is None
    assert MultiFilter("k", "K", (("x", "X"),)).parse(MultiDict([("k", "y")]))[1] is not None


@pytest.mark.parametrize(("typed", "applied"), [("1", True), ("on", True), ("yes", True), ("0", None), ("", None)])
def test_a_check_box_applies_only_when_ticked(app, typed, applied):
    assert state(app, mine=typed).values["mine"] is applied


def test_a_range_over_two_named_parameters_checks_each_and_both(app):
    both = state(app, since="2026-03-01 10:00", until="2026-03-01")
    assert both.values["time"] == (datetime(2026, 3, 1, 3, tzinfo=UTC), datetime(2026, 3, 1, 17, tzinfo=UTC))
    backwards = state(app, since="2026-03-02", until="2026-03-01 23:59")
    # The start stays applied; the message sits beside the end, which is dropped.
    assert backwards.errors == {"until": "The end of the range must be after its start."}
    assert backwards.values["time"] == (datetime(2026, 3, 1, 17, tzinfo=UTC), None)
    assert backwards.query_args() == {"since": "2026-03-02"}
    assert [str(m) for m in backwards.errors_of(LIST.filter("time"))] == [
        "The end of the range must be after its start."]
    wrong = state(app, since="yesterday", until="2026-03-01")
    assert set(wrong.errors) == {"since"} and wrong.values["time"] == (None, datetime(2026, 3, 1, 17, tzinfo=UTC))
    # The ends of the calendar mean no bound.
    assert state(app, since="0001-01-01", until="9999-12-31").values["time"] is None
    assert state(app, until="2026-03-01 08:30:15").values["time"][1] == datetime(2026, 3, 1, 1, 30, 16, tzinfo=UTC)


def test_values_fixed_by_the_path_win_are_checked_and_are_not_the_viewers_filters(app):
    got = state(app, fixed={"owner": "ayu", "kind": "a"}, owner="budi", q="report")
    assert got.values["owner"] == "ayu" and got.raw["owner"] == "ayu" and got.values["kind"] == "a"
    assert got.fixed == {"owner", "kind"}
    assert [flt.name for flt in got.shown(hidden=("mine",))] == ["q", "tag", "time"]
    assert got.active() == 1 and got.filtered  # the search; not what the path fixes
    assert got.query_args() == {"q": "report", "kind": "a", "owner": "ayu"}  # a link elsewhere keeps them
    assert not state(app, fixed={"owner": "ayu"}).filtered
    assert state(app, fixed={"kind": "zzz"}).errors == {"kind": "Choose one of the offered values."}


def test_page_sizes_are_chosen_per_list(app, monkeypatch):
    assert state(app, size="10").size == 10
    assert state(app, size="15").size == state(app, size="x").size == state(app).size == 20
    monkeypatch.setitem(app.config, "LIST_PAGE_SIZE", 3)
    plain = ListDefinition(filters=[], sorts=LIST.sorts, default_sort="id")
    with app.test_request_context("/?size=10"):
        assert plain.state().size == 3  # a list without a choice keeps the configured size
