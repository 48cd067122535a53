"""The controls of a list's filter bar (app.listing): each reads its query parameters.

``parse(args)`` returns ``(value, error)``. A value of None means the filter is not
applied. The error is a message for the whole filter, or, for a filter that spans two
parameters, a mapping of parameter name to message, so that each message can sit beside
its own input. ``kind`` names the control ``templates/_partials/list.html`` draws.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from flask import current_app
from flask_babel import lazy_gettext as _l

from app import inputs
from app.inputs import InvalidInput

MAX_AMOUNT = 10**15
_SEPARATORS = re.compile(r"[\s.,_]|^(rp|idr)", re.I)
FLAG_ON = frozenset({"1", "on", "true", "yes"})


def getlist(args: Mapping, name: str) -> list[str]:
    """Every value of ``name`` in ``args`` (a MultiDict, or a plain mapping of one value or a list)."""
    if hasattr(args, "getlist"):
        return args.getlist(name)
    value = args.get(name)
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


class Filter:
    """A text input. Subclasses check and convert the trimmed text in :meth:`clean`."""

    kind = "search"
    multiple = False  # True: the parameter may be repeated (the raw input is a list)
    help = None  # a line under the control

    def __init__(self, name: str, label, *, placeholder=None, max_length: int = 100, help=None):
        self.name, self.label, self.placeholder, self.max_length = name, label, placeholder, max_length
        if help is not None:
            self.help = help

    @property
    def params(self) -> tuple[str, ...]:
        return (self.name,)

    def parse(self, args: Mapping[str, str]):
        """``(value, error)``; value None means the filter is not applied."""
        try:
            raw = inputs.text(args.get(self.name), max_length=self.max_length)
            return (None if raw is None else self.clean(raw)), None
        except InvalidInput as exc:
            return None, exc.message

    def clean(self, text: str):
        """The value of one non-empty input (trimmed, one line); raises InvalidInput to refuse it."""
        return text


class PatternFilter(Filter):
    """Text that must match ``pattern`` (an identifier, a code); ``message`` says what fits."""

    def __init__(self, name: str, label, pattern: re.Pattern, message, **options):
        super().__init__(name, label, **options)
        self.pattern, self.message = pattern, message

    def clean(self, text: str):
        if not self.pattern.match(text):
            raise InvalidInput(self.message)
        return text


class ChoiceFilter(Filter):
    """A select box. ``choices`` may be given here or, when they depend on the viewer
    (institutions in one's scope), passed to the template by the route."""

    kind = "choice"

    def __init__(self, name: str, label, choices: Sequence[tuple[str, object]] = (), *, integer: bool = False,
                 message=None):
        super().__init__(name, label)
        self.choices, self.integer = tuple(choices), integer
        self.message = message or _l("Choose one of the offered values.")

    def parse(self, args):
        raw = (args.get(self.name) or "").strip()
        if not raw:
            return None, None
        if self.integer:
            if inputs.digits(raw, 9):
                return int(raw), None
            return None, self.message
        if self.choices and raw not in {value for value, _label in self.choices}:
            return None, self.message
        return raw, None


class MultiFilter(Filter):
    """Several values of one repeated parameter (``?action=A&action=B``), shown as a select
    box that takes several; the value is a tuple in the order given, without repeats. Each
    value is checked by :meth:`clean` (against ``choices`` when they are declared here)."""

    kind = "multiple"
    multiple = True

    def __init__(self, name: str, label, choices: Sequence[tuple[str, object]] = (), **options):
        super().__init__(name, label, **options)
        self.choices = tuple(choices)

    def parse(self, args):
        values = []
        try:
            for raw in getlist(args, self.name):
                text = inputs.text(raw, max_length=self.max_length)
                if text is not None:
                    values.append(self.clean(text))
        except InvalidInput as exc:
            return None, exc.message
        return (tuple(dict.fromkeys(values)) or None), None

    def clean(self, text: str):
        if self.choices and text not in {value for value, _label in self.choices}:
            raise InvalidInput(_l("Choose one of the offered values."))
        return text


class FlagFilter(Filter):
    """A check box: applied (value True) when the parameter is 1, on, true or yes."""

    kind = "flag"

    def parse(self, args):
        return (True if str(args.get(self.name) or "").strip().lower() in FLAG_ON else None), None


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


class MomentRangeFilter(Filter):
    """A start and an end, each a date or a local date-time (app.inputs.moment), in two named
    parameters (``since``, ``until``) drawn as two text inputs. The value is ``(start, end)``
    as aware UTC datetimes, end exclusive, either None when open; the end must lie after the
    start. Errors are given per parameter; a valid bound stays applied beside a wrong one."""

    kind = "pair"

    def __init__(self, name: str, label, params: tuple[str, str], labels: tuple, *, placeholders=(None, None)):
        super().__init__(name, label, max_length=40)
        self._params, self.labels, self.placeholders = tuple(params), tuple(labels), tuple(placeholders)

    @property
    def params(self):
        return self._params

    @property
    def help(self):
        return _l("Dates and times are in %(zone)s; an end date includes that whole day.",
                  zone=current_app.config["BABEL_DEFAULT_TIMEZONE"])

    def parse(self, args):
        zone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
        bounds, errors = [], {}
        for param, end in zip(self.params, (False, True), strict=True):
            try:
                bounds.append(inputs.moment(inputs.text(args.get(param), max_length=self.max_length), zone, end=end))
            except InvalidInput as exc:
                bounds.append(None)
                errors[param] = exc.message
        start, end = bounds
        if start is not None and end is not None and start >= end:
            errors[self.params[1]] = _l("The end of the range must be after its start.")
            end = None
        value = (start, end) if start is not None or end is not None else None
        return value, errors or None


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
