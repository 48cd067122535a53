"""The shared list pattern (NetBox-style): filter bar, sortable columns, keyset pages, CSV export.

A list page declares a :class:`ListDefinition`: its filters, the orderings it may be
sorted by (indexed columns only, the last one unique) and the columns of its CSV
export. The route reads a :class:`ListState` from the query string, asks its service
for the filtered query, and renders one page with ``templates/_partials/list.html``,
or streams the CSV of the whole filtered list (``?format=csv``), page by page.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask, Response, current_app, render_template, request, stream_with_context, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from app import escaping, inputs
from app.errors import render_error
from app.extensions import db
from app.inputs import InvalidInput
from app.pagination import DEFAULT_PAGE_SIZE, InvalidCursor, Keyset, Page

EXPORT_BATCH = 1000
MAX_AMOUNT = 10**15
_SEPARATORS = re.compile(r"[\s.,_]|^(rp|idr)", re.I)


class Filter:
    """One control of the filter bar; ``parse`` turns the query string into a value."""

    kind = "search"

    def __init__(self, name: str, label, *, placeholder=None):
        self.name, self.label, self.placeholder = name, label, placeholder

    @property
    def params(self) -> tuple[str, ...]:
        return (self.name,)

    def parse(self, args: Mapping[str, str]):
        """``(value, error)``; value None means the filter is not applied."""
        raw = args.get(self.name, "").strip()
        if len(raw) > 100:
            return None, _l("Use at most 100 characters.")
        return (raw or None), None


class ChoiceFilter(Filter):
    """A select box. ``choices`` may be given here or, when they depend on the viewer
    (institutions in one's scope), passed to the template by the route."""

    kind = "choice"

    def __init__(self, name: str, label, choices: Sequence[tuple[str, object]] = (), *, integer: bool = False):
        super().__init__(name, label)
        self.choices, self.integer = tuple(choices), integer

    def parse(self, args):
        raw = args.get(self.name, "").strip()
        if not raw:
            return None, None
        if self.integer:
            if inputs.digits(raw, 9):
                return int(raw), None
            return None, _l("Choose one of the offered values.")
        if self.choices and raw not in {value for value, _label in self.choices}:
            return None, _l("Choose one of the offered values.")
        return raw, None


class DateRangeFilter(Filter):
    """Two dates (``<name>_from``, ``<name>_to``), inclusive, in the display time zone;
    the value is ``(start, end)`` as aware UTC datetimes, end exclusive."""

    kind = "date_range"

    @property
    def params(self):
        return (f"{self.name}_from", f"{self.name}_to")

    def parse(self, args):
        try:
            start, end = (inputs.day(args.get(param)) for param in self.params)
        except InvalidInput as exc:
            return None, exc.message
        if start is None and end is None:
            return None, None
        if start and end and start > end:
            return None, _l("The first date is after the second.")
        return inputs.day_bounds(start, end, current_app.config["BABEL_DEFAULT_TIMEZONE"]), None


class AmountRangeFilter(Filter):
    """Two whole amounts (``<name>_min``, ``<name>_max``), inclusive; separators are ignored."""

    kind = "amount_range"

    @property
    def params(self):
        return (f"{self.name}_min", f"{self.name}_max")

    def parse(self, args):
        bounds = []
        for param in self.params:
            raw = _SEPARATORS.sub("", args.get(param, "").strip())
            if not raw:
                bounds.append(None)
            elif inputs.digits(raw) and int(raw) <= MAX_AMOUNT:
                bounds.append(int(raw))
            else:
                return None, _l("Enter whole amounts in rupiah, for example 1500000.")
        low, high = bounds
        if low is None and high is None:
            return None, None
        if low is not None and high is not None and low > high:
            return None, _l("The smallest amount is larger than the largest.")
        return (low, high), None


@dataclass(frozen=True)
class SortOption:
    """An ordering on indexed columns; the last column must be unique (usually the id)."""

    key: str
    label: object
    columns: tuple[InstrumentedAttribute, ...]
    descending: bool = True  # the first direction when the column is chosen


@dataclass(frozen=True)
class CsvColumn:
    header: str
    value: Callable[[object], object]


@dataclass
class ListState:
    """What the query string asked for: filter values, sort, and the page cursor."""

    definition: ListDefinition
    values: dict[str, object]
    raw: dict[str, str]
    errors: dict[str, object]
    sort: SortOption
    descending: bool
    cursor: str | None
    direction: str
    defaulted: frozenset[str] = frozenset()
    size: int = DEFAULT_PAGE_SIZE

    @property
    def filtered(self) -> bool:
        """True when the viewer narrowed the list (a default filter does not count)."""
        return any(value is not None for name, value in self.values.items() if name not in self.defaulted)

    @property
    def keyset(self) -> Keyset:
        return Keyset(self.sort.columns, descending=self.descending)

    def value(self, name: str):
        return self.values.get(name)

    def aria_sort(self, key: str) -> str:
        if key != self.sort.key:
            return "none"
        return "descending" if self.descending else "ascending"

    def sort_params(self, key: str) -> dict:
        """Query parameters that sort by ``key`` (flipping the direction when it is current)."""
        option = self.definition.sort_by_key[key]
        descending = (not self.descending) if key == self.sort.key else option.descending
        return {"sort": key, "order": "desc" if descending else "asc", "cursor": None, "dir": None}


@dataclass
class ListDefinition:
    filters: Sequence[Filter]
    sorts: Sequence[SortOption]
    default_sort: str
    csv_columns: Sequence[CsvColumn] = field(default_factory=tuple)

    @property
    def sort_by_key(self) -> dict[str, SortOption]:
        return {option.key: option for option in self.sorts}

    def filter(self, name: str) -> Filter:
        """The filter declared under ``name`` (KeyError when there is none)."""
        return {flt.name: flt for flt in self.filters}[name]

    def state(self, args: Mapping[str, str] | None = None, *, defaults: Mapping[str, str] | None = None) -> ListState:
        """Parse the query string (``request.args`` by default). ``defaults`` apply to a
        filter whose parameter is absent (a queue that shows pending items unless asked)."""
        args = request.args if args is None else args
        defaults = defaults or {}
        values, raw, errors, defaulted = {}, {}, {}, set()
        for flt in self.filters:
            source = args
            if flt.name in defaults and flt.name not in args:
                source = {flt.name: defaults[flt.name]}
                defaulted.add(flt.name)
            for param in flt.params:
                raw[param] = source.get(param, "")
            value, error = flt.parse(source)
            values[flt.name] = value
            if error is not None:
                errors[flt.name] = error
        options = self.sort_by_key
        sort = options.get(args.get("sort", ""), options[self.default_sort])
        order = args.get("order", "")
        descending = sort.descending if order not in ("asc", "desc") else order == "desc"
        return ListState(self, values, raw, errors, sort, descending, args.get("cursor") or None,
                         "prev" if args.get("dir") == "prev" else "next", frozenset(defaulted),
                         current_app.config.get("LIST_PAGE_SIZE", DEFAULT_PAGE_SIZE))

    def page(self, query: Select, state: ListState) -> Page:
        """One page of ``query`` in the state's order; raises InvalidCursor for a foreign cursor."""
        return state.keyset.page(query, cursor=state.cursor, direction=state.direction, size=state.size)

    def respond(self, query: Select, state: ListState, template: str, filename: str, **context):
        """The list page of ``query``, or its CSV export when the URL asks ``format=csv``."""
        if wants_csv():
            return self.csv_response(query, state, filename)
        return render_template(template, state=state, page=self.page(query, state), **context)

    def csv_response(self, query: Select, state: ListState, filename: str) -> Response:
        """The whole filtered list as CSV, streamed in keyset batches (no OFFSET, bounded memory).

        Each person may start ``csv_exports_per_hour`` exports an hour (a runtime setting);
        beyond that the answer is 429.
        """
        count_export()
        columns = self.csv_columns
        keyset = state.keyset

        def generate() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow([str(column.header) for column in columns])
            cursor = None
            while True:
                page = keyset.page(query, cursor=cursor, size=EXPORT_BATCH)
                for item in page.items:
                    writer.writerow([csv_cell(column.value(item)) for column in columns])
                    db.session.expunge(item)  # keep memory flat on long exports
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                if not page.next:
                    return
                cursor = page.next

        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        response = Response(stream_with_context(generate()), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
        return response


EXPORT_CHECKS = "listing.export_checks"
CURSOR_MESSAGE = _l("This page link was not made for this list, or it has expired. Start again from the first page.")


def on_export(app: Flask, check: Callable[[], None]) -> None:
    """Run ``check()`` before each CSV export starts; it refuses one by raising (idempotent).

    The security layer counts exports against their hourly limit here (app.security.limiting).
    """
    checks = app.extensions.setdefault(EXPORT_CHECKS, [])
    if check not in checks:
        checks.append(check)


def count_export() -> None:
    """Run the export checks (the hourly limit: a 429 page past it) for one CSV export."""
    for check in current_app.extensions.get(EXPORT_CHECKS, ()):
        check()


def csv_cell(value) -> object:
    """A list export's cell: times in the display zone, yes/no for booleans, and the shared
    guard (app.escaping.csv_cell: one line, never a formula) for everything else."""
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return escaping.csv_cell(value)


def wants_csv() -> bool:
    return request.args.get("format") == "csv"


def url_with(**changes) -> str:
    """The current page's URL with some query parameters changed (None removes one)."""
    params: dict[str, object] = dict(request.view_args or {})
    for key, values in request.args.lists():
        params[key] = values
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return url_for(request.endpoint, **params)


def init_app(app: Flask) -> None:
    """``url_with`` for templates; a foreign or expired page link answers 400 with a way back."""
    app.add_template_global(url_with)

    @app.errorhandler(InvalidCursor)
    def _invalid_cursor(_exc: InvalidCursor):
        first_page = url_with(cursor=None, dir=None) if request.endpoint else None
        return render_error(400, CURSOR_MESSAGE, error_code="invalid_cursor",
                            link=(first_page, _l("Go to the first page")) if first_page else None)
