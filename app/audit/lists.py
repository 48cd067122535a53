"""The audit log's list declaration (app.listing): its filters, its one order and its page
sizes, read by the list and timeline pages, the exports (app.audit.routes) and, where they
share parameters, the API pull (app.api.audit_logs), so that they cannot drift.

:func:`filter_of` turns a parsed list state into the typed :class:`AuditFilter` that
app.audit.queries and app.audit.export read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

from app.audit.filters import AuditFilter
from app.audit.models import AuditLog, AuditResult
from app.inputs import INT_MAX, InvalidInput, digits, text
from app.listing import (
    ChoiceFilter,
    Filter,
    FlagFilter,
    ListDefinition,
    ListState,
    MomentRangeFilter,
    MultiFilter,
    PatternFilter,
    SortOption,
)

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MIN_TERM_LENGTH = 3
MAX_TERMS = 5
ACTION = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
RESOURCE_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
RESOURCE_ID_LENGTH = 64
RESULT_CHOICES = ((AuditResult.SUCCESS.value, _l("Success")), (AuditResult.FAILURE.value, _l("Failure")))


class WordsFilter(Filter):
    """Words searched for together: each of at least MIN_TERM_LENGTH characters, at most
    MAX_TERMS of them; the value is the words in lower case, without repeats."""

    def clean(self, text: str):
        terms = tuple(dict.fromkeys(term.lower() for term in text.split()))
        if any(len(term) < MIN_TERM_LENGTH for term in terms):
            raise InvalidInput(_l("Each search word needs at least %(n)d characters.", n=MIN_TERM_LENGTH))
        if len(terms) > MAX_TERMS:
            raise InvalidInput(_l("Search for at most %(n)d words at a time.", n=MAX_TERMS))
        return terms


class ActorFilter(Filter):
    """Who acted: an e-mail address (the value, in lower case) or a user id (42 or #42: an int)."""

    def clean(self, text: str):
        number = text.lstrip("#")
        return int(number) if digits(number, 9) else text.lower()


class UserIdFilter(Filter):
    """A user id: a whole number from 1 to the largest an id column holds."""

    def clean(self, text: str):
        if digits(text, 10) and 1 <= int(text) <= INT_MAX:
            return int(text)
        raise InvalidInput(_l("Not a valid user id."))


class ActionFilter(MultiFilter):
    """Action names (LOGIN_FAILURE), any number of them; names of retired actions are still
    accepted, so the check is their spelling, not today's list."""

    pattern = ACTION

    def clean(self, text: str):
        if not ACTION.match(text):
            raise InvalidInput(_l("Unknown action: %(action)s", action=text[:64]))
        return text


class ResourceFilter(Filter):
    """What an entry is about: a type (``<name>_type``) and, only with it, an id (``<name>_id``).
    The value is ``(type, id or None)``; each parameter gets its own message."""

    kind = "pair"

    def __init__(self, name: str, label, labels: tuple):
        super().__init__(name, label, max_length=RESOURCE_ID_LENGTH)
        self.labels, self.placeholders = tuple(labels), (None, None)

    @property
    def params(self):
        return (f"{self.name}_type", f"{self.name}_id")

    def parse(self, args):
        type_param, id_param = self.params
        errors, kind, ident = {}, None, None
        try:
            kind = text(args.get(type_param), max_length=self.max_length)
            if kind is not None and not RESOURCE_TYPE.match(kind):
                kind = None
                raise InvalidInput(_l("Use lower-case letters, digits and underscores."))
        except InvalidInput as exc:
            errors[type_param] = exc.message
        try:
            ident = text(args.get(id_param), max_length=self.max_length)
        except InvalidInput as exc:
            errors[id_param] = exc.message
        if ident is not None and kind is None:
            ident = None
            if type_param not in errors:
                errors[id_param] = _l("Choose the type of the resource as well.")
        return ((kind, ident) if kind else None), errors or None


class AddressFilter(Filter):
    """An IPv4 or IPv6 address, in its standard spelling (2001:db8::1)."""

    def clean(self, text: str):
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            raise InvalidInput(_l("Enter an IPv4 or IPv6 address.")) from None


AUDIT_LOG = ListDefinition(
    filters=[
        WordsFilter("q", _l("Search"), max_length=200, help=_l(
            "Words in the description or the resource, at least 3 characters each. Names and e-mail "
            "addresses are stored sealed: find a person with the actor filter or their history.")),
        ActorFilter("actor", _l("Actor"), max_length=254),
        UserIdFilter("actor_id", _l("User id")),
        ActionFilter("action", _l("Actions"), help=_l("Hold Ctrl (or Cmd) to choose several.")),
        ResourceFilter("resource", _l("Resource"), (_l("Resource type"), _l("Resource id"))),
        MomentRangeFilter("time", _l("When"), ("since", "until"), (_l("From"), _l("Until")),
                          placeholders=("2026-01-31 08:00", "2026-01-31")),
        ChoiceFilter("result", _l("Result"), RESULT_CHOICES, message=_l("Choose success or failure.")),
        AddressFilter("ip", _l("IP address"), max_length=45),
        FlagFilter("impersonated", _l("Only during impersonation")),
        PatternFilter("request_id", _l("Request id"), REQUEST_ID, _l("Not a valid request id."), max_length=64),
    ],
    # Newest first only: every filter has an index ending in (created_at, id) (app.audit.queries).
    sorts=[SortOption("created", _l("When"), (AuditLog.created_at, AuditLog.id))],
    default_sort="created",
    page_sizes=PAGE_SIZES,
    default_size=DEFAULT_PAGE_SIZE,
)


def audit_filter(values: Mapping[str, object], args: Mapping[str, object]) -> AuditFilter:
    """The criteria of AUDIT_LOG's filter ``values`` (by filter name). ``args`` are the accepted
    parameters as typed: they describe the filter in the audit entry of an export or API read."""
    actor = values.get("actor")
    actor_id = values.get("actor_id")
    resource_type, resource_id = values.get("resource") or (None, None)
    since, until = values.get("time") or (None, None)
    terms = values.get("q") or ()
    return AuditFilter(
        q=args.get("q") if terms else None, terms=terms,
        actor_email=actor if isinstance(actor, str) else None,
        actor_id=actor_id if actor_id is not None else (actor if isinstance(actor, int) else None),
        actions=values.get("action") or (), resource_type=resource_type, resource_id=resource_id,
        since=since, until=until, result=values.get("result"), ip=values.get("ip"),
        impersonated=bool(values.get("impersonated")), request_id=values.get("request_id"), raw=dict(args))


def filter_of(state: ListState) -> AuditFilter:
    """The criteria of a parsed AUDIT_LOG state (only its accepted values)."""
    return audit_filter(state.values, state.query_args())
