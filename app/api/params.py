"""Query parameters and JSON bodies of the API: parsed strictly, refused with ``validation_error``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import request
from flask_babel import gettext as _
from sqlalchemy import Select

from app.api.auth import ApiError
from app.inputs import digits, has_control_characters
from app.listing import ChoiceFilter, DateRangeFilter, Filter, ListDefinition
from app.pagination import InvalidCursor, Keyset

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_INT = 2**31 - 1


def invalid(field: str, message) -> ApiError:
    return ApiError(400, "validation_error", _("Check the request: %(field)s is not valid.", field=field),
                    fields={field: str(message)})


def integer(name: str, *, minimum: int = 1, maximum: int = MAX_INT, default: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not digits(raw, 10) or not minimum <= int(raw) <= maximum:
        raise invalid(name, _("Use a whole number from %(low)s to %(high)s.", low=minimum, high=maximum))
    return int(raw)


def choice(name: str, allowed) -> str | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw not in allowed:
        raise invalid(name, _("Use one of: %(values)s.", values=", ".join(allowed)))
    return raw


def boolean(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise invalid(name, _("Use true or false."))
    return raw == "true"


def text(name: str, max_length: int = 100) -> str | None:
    raw = request.args.get(name) or ""
    if len(raw) > max_length:
        raise invalid(name, _("Use at most %(n)s characters.", n=max_length))
    if has_control_characters(raw):
        raise invalid(name, _("Control characters are not allowed."))
    return raw.strip() or None


def list_filters(definition: ListDefinition, names: Mapping[str, str], *, booleans: tuple[str, ...] = ()) -> dict:
    """The values of a list page's filters (app.listing), read from the API's parameters, for the
    same service query as the page. ``names`` maps an API parameter to its filter; a parameter in
    ``booleans`` takes true/false for a filter of two choices (true is the first). Text, whole
    numbers and choices are checked like every API parameter; the allowed choices are the filter's.
    A date range is read from two RFC 3339 parameters named after its key, ``<key>_after`` (at or
    after) and ``<key>_before`` (before). A filter the API cannot read raises TypeError.
    """
    values: dict[str, object] = {}
    for param, name in names.items():
        flt = definition.filter(name)
        if isinstance(flt, DateRangeFilter):
            after, before = (timestamp(bound) for bound in range_parameters(param))
            values[name] = (after, before) if after or before else None
        elif isinstance(flt, ChoiceFilter):
            if flt.integer:
                values[name] = integer(param)
            elif param in booleans:
                flag = boolean(param)
                values[name] = None if flag is None else flt.choices[0 if flag else 1][0]
            else:
                values[name] = choice(param, tuple(value for value, _label in flt.choices))
        elif type(flt) is Filter:
            values[name] = text(param)
        else:
            raise TypeError(f"the API does not read {type(flt).__name__} filters ({name!r})")
    return values


def range_parameters(key: str) -> tuple[str, str]:
    """The two API parameters of a date range: ``<key>_after`` and ``<key>_before``."""
    return f"{key}_after", f"{key}_before"


def filter_parameters(definition: ListDefinition, names: Mapping[str, str]) -> tuple[str, ...]:
    """Every query parameter :func:`list_filters` reads for ``names`` (what the OpenAPI document describes)."""
    found: list[str] = []
    for param, name in names.items():
        is_range = isinstance(definition.filter(name), DateRangeFilter)
        found.extend(range_parameters(param) if is_range else (param,))
    return tuple(found)


_LEAP_SECOND = re.compile(r"(T\d\d:\d\d):60")


def timestamp(name: str) -> datetime | None:
    """An RFC 3339 date-time (2026-01-31T00:00:00Z); without a zone it is taken as UTC."""
    raw = request.args.get(name)
    if raw is None:
        return None
    text = _LEAP_SECOND.sub(r"\1:59", raw.strip().upper().replace("Z", "+00:00"))
    try:
        value = datetime.fromisoformat(text) if "T" in text else None
    except ValueError:
        value = None
    if value is None:
        raise invalid(name, _("Use an RFC 3339 date-time, e.g. 2026-01-31T00:00:00Z."))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def page(query: Select, keyset: Keyset, serialize) -> dict:
    """One keyset page of ``query``: ``{"data": [...], "next_cursor": str | null}``."""
    size = integer("limit", maximum=MAX_LIMIT, default=DEFAULT_LIMIT)
    cursor = request.args.get("cursor") or None
    try:
        result = keyset.page(query, cursor=cursor, size=size)
    except InvalidCursor:
        raise invalid("cursor", _("This cursor was not made by this list.")) from None
    return {"data": [serialize(row) for row in result.items], "next_cursor": result.next}


def json_body() -> dict:
    """The request's JSON object (an empty body counts as ``{}``)."""
    if not request.get_data(cache=True):
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "validation_error", _("Send a JSON object (Content-Type: application/json)."))
    return body


def declared_filter(definition: ListDefinition, name: str):
    """The value of one of a list page's filters (app.listing), read from the API parameters of the
    same names by the filter's own rules and messages. The API is stricter than the page, which
    trims what people type: a value given empty, or with spaces around it, is refused."""
    flt = definition.filter(name)
    for param in flt.params:
        for raw in request.args.getlist(param):
            if not raw or raw != raw.strip():
                raise invalid(param, _("Give a value without spaces around it, or leave the parameter out."))
    value, error = flt.parse(request.args)
    if isinstance(error, Mapping):
        param, message = next(iter(error.items()))
        raise invalid(param, message)
    if error is not None:
        raise invalid(flt.params[0], error)
    return value
