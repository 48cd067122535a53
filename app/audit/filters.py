"""The audit log's filters: parsed from the URL (so a link reproduces a view) and back.

:func:`parse_filter` turns query arguments into an :class:`AuditFilter` plus a message
per field it could not accept; nothing is queried while a field is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from flask_babel import to_utc

from app.audit.models import AuditResult
from app.inputs import digits, has_control_characters, within_calendar

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MIN_TERM_LENGTH = 3
MAX_TERMS = 5
_ACTION = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_RESOURCE_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")
# Query arguments that are filters (paging and size are not).
FILTER_ARGS = ("q", "actor", "actor_id", "action", "resource_type", "resource_id", "since", "until",
               "result", "ip", "impersonated", "request_id")


@dataclass(frozen=True)
class AuditFilter:
    """What to show; every field optional. Times are UTC, ``until`` exclusive."""

    q: str | None = None
    terms: tuple[str, ...] = ()
    actor_email: str | None = None
    actor_id: int | None = None  # this actor's entries, including those made while impersonating
    actions: tuple[str, ...] = ()
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    result: str | None = None
    ip: str | None = None
    impersonated: bool = False
    request_id: str | None = None
    raw: dict = field(default_factory=dict, compare=False)  # the valid inputs as typed (for URLs)
    typed: dict = field(default_factory=dict, compare=False)  # every input as typed (to show it again)

    @property
    def is_empty(self) -> bool:
        return not self.query_args()

    def query_args(self) -> dict:
        """The filter as URL query arguments (the inputs as typed, valid ones only)."""
        args = {}
        for name in FILTER_ARGS:
            value = self.raw.get(name)
            if value:
                args[name] = value
        return args

    def summary(self) -> str:
        """One line describing the filter (for the audit entry of an export)."""
        parts = []
        for name, value in self.query_args().items():
            shown = ",".join(value) if isinstance(value, list) else value
            parts.append(f"{name}={shown}")
        return "; ".join(parts) or "no filter"


def _text(args, name: str, limit: int, errors: dict) -> str | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    if len(value) > limit:
        errors[name] = _l("Use at most %(n)d characters.", n=limit)
        return None
    if has_control_characters(value):
        errors[name] = _l("Line breaks and control characters are not allowed.")
        return None
    return value


def _parse_time(value: str, *, end: bool) -> datetime | None:
    """A date or a local date-time (the display time zone) as aware UTC.

    For the end of a range, a date means the whole day and a minute the whole minute. A
    time at the ends of the calendar (0001-01-01, 9999-12-31) means no bound: None.
    """
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is not None:
        if not within_calendar(day):
            return None
        local = datetime(day.year, day.month, day.day) + (timedelta(days=1) if end else timedelta())
    else:
        for pattern in _DATE_FORMATS:
            try:
                local = datetime.strptime(value, pattern)
                break
            except ValueError:
                continue
        else:
            raise ValueError(value)
        if not within_calendar(local.date()):
            return None
        if end:
            local += timedelta(seconds=1) if local.second else timedelta(minutes=1)
    return to_utc(local).replace(tzinfo=UTC)


def parse_filter(args, *, fixed: dict | None = None) -> tuple[AuditFilter, dict]:
    """``(filter, errors)`` from query arguments; ``fixed`` overrides them (timeline pages).

    ``errors`` maps an argument name to a message to show beside its input.
    """
    merged = {name: args.get(name) for name in FILTER_ARGS if name != "action"}
    merged["action"] = [a for a in args.getlist("action") if a.strip()] if hasattr(args, "getlist") else []
    merged.update(fixed or {})
    errors: dict = {}
    raw: dict = {}
    values: dict = {}

    def keep(name, value):
        if value is not None and name not in errors:
            raw[name] = merged[name].strip() if isinstance(merged[name], str) else merged[name]
            if name == "action":
                raw[name] = list(value)
            return value
        return None

    q = _text(merged, "q", 200, errors)
    if q:
        terms = tuple(dict.fromkeys(t.lower() for t in q.split()))
        if any(len(t) < MIN_TERM_LENGTH for t in terms):
            errors["q"] = _l("Each search word needs at least %(n)d characters.", n=MIN_TERM_LENGTH)
        elif len(terms) > MAX_TERMS:
            errors["q"] = _l("Search for at most %(n)d words at a time.", n=MAX_TERMS)
        else:
            values["q"], values["terms"] = keep("q", q), terms

    actor = _text(merged, "actor", 254, errors)
    if actor:
        if digits(actor.lstrip("#"), 9):
            values["actor_id"] = keep("actor", int(actor.lstrip("#")))
        else:
            values["actor_email"] = keep("actor", actor.lower())
    actor_id = merged.get("actor_id")
    if actor_id not in (None, ""):
        if digits(str(actor_id), 10) and int(actor_id) < 2**31:
            values["actor_id"] = keep("actor_id", int(actor_id))
        else:
            errors["actor_id"] = _l("Not a valid user id.")

    actions = merged["action"] or []
    bad = [a for a in actions if not _ACTION.match(a)]
    if bad:
        errors["action"] = _l("Unknown action: %(action)s", action=bad[0][:64])
    elif actions:
        values["actions"] = keep("action", tuple(dict.fromkeys(actions)))

    resource_type = _text(merged, "resource_type", 64, errors)
    if resource_type and not _RESOURCE_TYPE.match(resource_type):
        errors["resource_type"] = _l("Use lower-case letters, digits and underscores.")
    elif resource_type:
        values["resource_type"] = keep("resource_type", resource_type)
    resource_id = _text(merged, "resource_id", 64, errors)
    if resource_id and not resource_type:
        errors["resource_id"] = _l("Choose the type of the resource as well.")
    elif resource_id:
        values["resource_id"] = keep("resource_id", resource_id)

    for name, end in (("since", False), ("until", True)):
        typed = _text(merged, name, 40, errors)
        if typed:
            try:
                values[name] = keep(name, _parse_time(typed, end=end))
            except ValueError:
                errors[name] = _l("Enter a date (YYYY-MM-DD) or a date and time.")
    if values.get("since") and values.get("until") and values["since"] >= values["until"]:
        errors["until"] = _l("The end of the range must be after its start.")
        del values["until"], raw["until"]

    result = _text(merged, "result", 16, errors)
    if result and result not in {r.value for r in AuditResult}:
        errors["result"] = _l("Choose success or failure.")
    elif result:
        values["result"] = keep("result", result)

    ip = _text(merged, "ip", 45, errors)
    if ip:
        try:
            values["ip"] = keep("ip", str(ipaddress.ip_address(ip)))
        except ValueError:
            errors["ip"] = _l("Enter an IPv4 or IPv6 address.")

    if str(merged.get("impersonated") or "").lower() in {"1", "on", "true", "yes"}:
        values["impersonated"] = bool(keep("impersonated", True))

    request_id = _text(merged, "request_id", 64, errors)
    if request_id and not _REQUEST_ID.match(request_id):
        errors["request_id"] = _l("Not a valid request id.")
    elif request_id:
        values["request_id"] = keep("request_id", request_id)

    typed = {name: value for name, value in merged.items() if value not in (None, "", [])}
    return AuditFilter(raw=raw, typed=typed, **values), errors


def parse_page_size(value) -> int:
    """The page size asked for, if it is one of the offered sizes, else the default."""
    try:
        size = int(value)
    except (TypeError, ValueError):
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE
