"""What a person typed into the jump box, checked once (length, control characters).

Kept to one small function so that it can move onto the shared input layer unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

MAX_LENGTH = 100
# Characters a person cannot type into a search field: C0/C1 controls (NUL included),
# unpaired surrogates, line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
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
    """Check ``raw`` (the ``q`` parameter); raise InvalidQuery with a message when it is refused.

    At most MAX_LENGTH characters, and no control characters: a NUL byte would make
    PostgreSQL refuse the statement, so it is refused here with a message instead.
    """
    raw = raw or ""
    if len(raw) > MAX_LENGTH:
        raise InvalidQuery(_l("Type at most %(max)d characters.", max=MAX_LENGTH))
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in raw):
        raise InvalidQuery(_l("The search contains a control character (such as a NUL byte); "
                              "type only letters, digits, spaces and punctuation."))
    return JumpQuery(_SPACES.sub(" ", raw).strip())


def shown_back(raw: str | None) -> str:
    """A refused query as it may be shown again in the field: control characters dropped, cut to length."""
    kept = "".join(ch for ch in (raw or "") if unicodedata.category(ch) not in _REFUSED_CATEGORIES)
    return kept[:MAX_LENGTH]
