"""The shared list pattern (NetBox-style): filter bar, sortable columns, keyset pages, CSV export.

A list page declares a :class:`ListDefinition`: its filters (app.listing.filters), the
orderings it may be sorted by (indexed columns only, the last one unique), the columns of
its CSV export and, where people may choose, its page sizes. The route reads a
:class:`ListState` from the query string (with any values its URL path fixes), asks its
service for the filtered query, and renders one page with ``templates/_partials/list.html``,
or streams the CSV of the whole filtered list (``?format=csv``), page by page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask, Response, current_app, render_template, request, stream_with_context, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute
from werkzeug.datastructures import MultiDict

from app import escaping, inputs
from app.errors import render_error
from app.extensions import db
from app.listing.filters import (
    AmountRangeFilter,
    ChoiceFilter,
    DateRangeFilter,
    Filter,
    FlagFilter,
    MomentRangeFilter,
    MultiFilter,
    PatternFilter,
    getlist,
)
from app.pagination import DEFAULT_PAGE_SIZE, InvalidCursor, Keyset, Page

__all__ = ["AmountRangeFilter", "ChoiceFilter", "CsvColumn", "DateRangeFilter", "Filter", "FlagFilter",
           "ListDefinition", "ListState", "MomentRangeFilter", "MultiFilter", "PatternFilter", "SortOption",
           "csv_cell", "url_with", "wants_csv"]
EXPORT_BATCH = 1000


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
    """What the query string asked for: filter values, sort, page cursor and size.

    ``raw`` holds every parameter as typed (a list for a repeated one), to show it again;
    ``errors`` maps a filter's name, or one parameter of a two-parameter filter, to its
    message; ``fixed`` names the parameters the route's URL path set (a timeline's subject).
    """

    definition: ListDefinition
    values: dict[str, object]
    raw: dict[str, object]
    errors: dict[str, object]
    sort: SortOption
    descending: bool
    cursor: str | None
    direction: str
    defaulted: frozenset[str] = frozenset()
    size: int = DEFAULT_PAGE_SIZE
    fixed: frozenset[str] = frozenset()

    def chosen(self, flt: Filter) -> bool:
        """True when the viewer applied ``flt`` (not a default, not a value the URL path fixes)."""
        return (self.values.get(flt.name) is not None and flt.name not in self.defaulted
                and not set(flt.params) <= self.fixed)

    @property
    def filtered(self) -> bool:
        """True when the viewer narrowed the list (a default or fixed filter does not count)."""
        return any(self.chosen(flt) for flt in self.definition.filters)

    def active(self, hidden: Sequence[str] = ()) -> int:
        """How many filters the viewer applied, leaving out those named in ``hidden``."""
        return sum(1 for flt in self.definition.filters if flt.name not in hidden and self.chosen(flt))

    def shown(self, hidden: Sequence[str] = ()) -> list[Filter]:
        """The filters to draw in the filter bar: not those named in ``hidden``, nor those the URL path fixes."""
        return [flt for flt in self.definition.filters if flt.name not in hidden and not set(flt.params) <= self.fixed]

    def errors_of(self, flt: Filter) -> list:
        """The messages about ``flt``: its own, then those about each of its parameters."""
        return [self.errors[key] for key in dict.fromkeys((flt.name, *flt.params)) if key in self.errors]

    def query_args(self) -> dict[str, object]:
        """The accepted filter parameters as typed (fixed ones included, in declaration order):
        a link to the same view elsewhere, such as an export. Wrong or unused inputs are left out."""
        args: dict[str, object] = {}
        for flt in self.definition.filters:
            if self.values.get(flt.name) is None or flt.name in self.errors:
                continue
            for param in flt.params:
                typed = self.raw.get(param)
                if param in self.errors:
                    continue
                if isinstance(typed, list):
                    typed = list(dict.fromkeys(item.strip() for item in typed if item.strip()))
                elif isinstance(typed, str):
                    typed = typed.strip()
                if typed:
                    args[param] = typed
        return args

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
    """A list: its filters, orderings, CSV columns and, when people may choose one, the page
    sizes offered (``page_sizes``, with ``default_size``); without them a page holds
    ``LIST_PAGE_SIZE`` rows."""

    filters: Sequence[Filter]
    sorts: Sequence[SortOption]
    default_sort: str
    csv_columns: Sequence[CsvColumn] = field(default_factory=tuple)
    page_sizes: Sequence[int] = ()
    default_size: int | None = None

    @property
    def sort_by_key(self) -> dict[str, SortOption]:
        return {option.key: option for option in self.sorts}

    def filter(self, name: str) -> Filter:
        """The filter declared under ``name`` (KeyError when there is none)."""
        return {flt.name: flt for flt in self.filters}[name]

    def page_size(self, raw) -> int:
        """The page size asked for when it is one of ``page_sizes``, else the list's default."""
        if not self.page_sizes:
            return current_app.config.get("LIST_PAGE_SIZE", DEFAULT_PAGE_SIZE)
        default = self.default_size or self.page_sizes[0]
        if isinstance(raw, str) and inputs.digits(raw.strip(), 6) and int(raw) in self.page_sizes:
            return int(raw)
        return default

    def state(self, args: Mapping[str, str] | None = None, *, defaults: Mapping[str, str] | None = None,
              fixed: Mapping[str, object] | None = None) -> ListState:
        """Parse the query string (``request.args`` by default). ``defaults`` apply to a
        filter whose parameter is absent (a queue that shows pending items unless asked).
        ``fixed`` sets parameters whatever the query string says (a timeline page whose path
        names its subject); they are parsed and checked like the others."""
        args = request.args if args is None else args
        if fixed:
            args = MultiDict(args)
            for param, value in fixed.items():
                args.setlist(param, [str(item) for item in value] if isinstance(value, (list, tuple)) else [str(value)])
        defaults = defaults or {}
        values, raw, errors, defaulted = {}, {}, {}, set()
        for flt in self.filters:
            source = args
            if flt.name in defaults and flt.name not in args:
                source = {flt.name: defaults[flt.name]}
                defaulted.add(flt.name)
            for param in flt.params:
                raw[param] = getlist(source, param) if flt.multiple else source.get(param, "")
            value, error = flt.parse(source)
            values[flt.name] = value
            if isinstance(error, Mapping):
                errors.update(error)
            elif error is not None:
                errors[flt.name] = error
        options = self.sort_by_key
        sort = options.get(args.get("sort", ""), options[self.default_sort])
        order = args.get("order", "")
        descending = sort.descending if order not in ("asc", "desc") else order == "desc"
        return ListState(self, values, raw, errors, sort, descending, args.get("cursor") or None,
                         "prev" if args.get("dir") == "prev" else "next", frozenset(defaulted),
                         self.page_size(args.get("size")), frozenset(fixed or ()))

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
