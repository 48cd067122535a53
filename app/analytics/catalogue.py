"""Every analytics event the portal may record, declared in one place.

An event has a short slug name, says who may send it (the server only, or also the
first-party script through ``POST /analytics/collect``), and declares its properties: a
closed set of keys, each with a type that admits no free text (a count, a flag or one of
a few fixed words). :func:`checked` is the only way properties reach an event: an unknown
name, an unknown key or a value of the wrong type is refused with :class:`InvalidEvent`.

Milestones are the steps of an account's journey (invitation accepted, second factor set
up, first piece of work done); each carries ``seconds``: the whole seconds since the
account's previous milestone, computed when it is recorded (app.analytics.milestones).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_COUNT = 2**31 - 1
ROLES = ("superadmin", "admin", "privacy_officer", "institution_admin", "customer")
WORK_ACTIONS = ("invitation_sent", "approval_decided", "transaction_decided", "import_done")


class InvalidEvent(ValueError):
    """An event name that is not declared, or properties that do not match its declaration."""


class Kind(enum.StrEnum):
    PAGE = "page"  # a page view (server side, from the request hook)
    ACTION = "action"  # a named action
    MILESTONE = "milestone"  # a step of an account's journey, with the seconds since the previous one


@dataclass(frozen=True)
class Count:
    """A whole number from 0 to MAX_COUNT."""

    def check(self, value) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            raise InvalidEvent(f"a whole number from 0 to {MAX_COUNT}")
        return value


@dataclass(frozen=True)
class Flag:
    """True or false."""

    def check(self, value) -> bool:
        if not isinstance(value, bool):
            raise InvalidEvent("true or false")
        return value


@dataclass(frozen=True)
class OneOf:
    """One of a few fixed words."""

    values: tuple[str, ...]

    def check(self, value) -> str:
        if not isinstance(value, str) or value not in self.values:
            raise InvalidEvent("one of " + ", ".join(self.values))
        return value


@dataclass(frozen=True)
class EventType:
    """One declared event: its name, kind, properties, and whether the browser may send it."""

    name: str
    kind: Kind
    description: str
    properties: Mapping[str, Count | Flag | OneOf] = field(default_factory=dict)
    client: bool = False  # the first-party script may send it (a ``data-analytics`` attribute)


SECONDS = Count()
OUTCOME = OneOf(("approved", "rejected"))

EVENTS: tuple[EventType, ...] = (
    EventType("page_view", Kind.PAGE, "A signed-in person opened a page (its route template)."),
    # named actions, recorded by the server when the change has committed
    EventType("invitation_sent", Kind.ACTION, "An invitation to a new account was sent.",
              {"role": OneOf(ROLES)}),
    EventType("approval_decided", Kind.ACTION, "An approval request was approved or rejected.", {"outcome": OUTCOME}),
    EventType("transaction_decided", Kind.ACTION, "A payment was approved or rejected.", {"outcome": OUTCOME}),
    EventType("import_done", Kind.ACTION, "A customer import was completed.", {"rows": Count()}),
    EventType("backup_restored", Kind.ACTION, "A backup was restored."),
    # milestones of an account's journey
    EventType("invitation_accepted", Kind.MILESTONE, "An invited person set their password.",
              {"seconds": SECONDS}),
    EventType("two_factor_enrolled", Kind.MILESTONE, "An account set up its first second factor.",
              {"seconds": SECONDS, "method": OneOf(("totp", "passkey"))}),
    EventType("first_action", Kind.MILESTONE, "An account did its first piece of work.",
              {"seconds": SECONDS, "action": OneOf(WORK_ACTIONS)}),
    EventType("active_week", Kind.MILESTONE, "An account signed in during an ISO week (at most once a week).",
              {"weeks_since_joined": Count(), "joined_week": Count()}),
    # actions in the browser, sent by static/js/analytics.js
    EventType("csv_export_clicked", Kind.ACTION, "The CSV download of a list was clicked.", client=True),
    EventType("print_clicked", Kind.ACTION, "A page's Print button was clicked.", client=True),
    EventType("jump_opened", Kind.ACTION, "The jump box (Ctrl-K) was opened.", client=True),
)

BY_NAME: dict[str, EventType] = {e.name: e for e in EVENTS}
MAX_NAME = 40


def event_type(name: str) -> EventType:
    """The declaration of ``name``; raises InvalidEvent for a name that is not declared."""
    try:
        return BY_NAME[name]
    except (KeyError, TypeError):
        raise InvalidEvent(f"unknown event {name!r}") from None


def checked(name: str, properties: Mapping | None) -> dict | None:
    """``properties`` of event ``name`` once each key is declared and each value has its type
    (None when there are none). Raises InvalidEvent naming the problem."""
    declared = event_type(name).properties
    if not properties:
        return None
    if not isinstance(properties, Mapping):
        raise InvalidEvent("properties must be an object")
    clean = {}
    for key, value in properties.items():
        if key not in declared:
            raise InvalidEvent(f"{name} has no property {key!r}")
        try:
            clean[key] = declared[key].check(value)
        except InvalidEvent as exc:
            raise InvalidEvent(f"{name}.{key} must be {exc}") from None
    return clean
