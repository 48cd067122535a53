"""What a person typed into the jump box, checked by the shared input layer (length, control characters)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app import inputs

MAX_LENGTH = 100
_SPACES = re.compile(r"\s+")
_ID = re.compile(r"^#?([0-9]{1,19})$")
MAX_INT_ID = 2**31 - 1  # ids of the INTEGER primary keys
MAX_BIGINT_ID = 2**63 - 1  # audit entry ids


class InvalidQuery(ValueError):
    """The query cannot be searched; ``message`` says why (a lazy, translated string)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class JumpQuery:
    """A checked query: its text (trimmed, inner spaces collapsed) and the forms it can take."""

    text: str

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def number(self) -> int | None:
        """The id typed as ``123`` or ``#123``, or None."""
        match = _ID.match(self.text)
        return int(match.group(1)) if match else None

    @property
    def is_one_word(self) -> bool:
        return " " not in self.text


def parse_query(raw: str | None) -> JumpQuery:
    """Check ``raw`` (the ``q`` parameter); raise InvalidQuery with a message when it is refused."""
    try:
        text = inputs.text(raw, max_length=MAX_LENGTH) or ""
    except inputs.InvalidInput as exc:
        raise InvalidQuery(exc.message) from None
    return JumpQuery(_SPACES.sub(" ", text))


def shown_back(raw: str | None) -> str:
    """A refused query as it may be shown again in the field: control characters dropped, cut to length."""
    return inputs.without_control_characters(raw or "")[:MAX_LENGTH]
