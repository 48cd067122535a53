"""A reading of one operational figure (audit chain, newest verified backup, two-factor coverage).

The feature that owns a figure computes its reading; whoever shows it (the dashboard's
status cards) imports the feature's reading function. Readings must be cheap: they read a
stored result, never walk the audit chain or list a bucket on a page load.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Reading:
    """What a card shows. ``level`` is ok, warning, danger or unknown."""

    level: str
    value: object
    detail: object = None
    as_of: datetime | None = None
