"""The analytics pages' figures on the shared cache (app.caching), so a year's figures are read from
the rollup tables once per rollup, not on every request.

A key names the page, the period's first and last day, the interval, the locale and the scope
(always ``all``: the pages are for superadmins and show every institution; the scope is in the key
so that figures of another scope could never be served from it). Entries belong to the rollup
generation (app.analytics.figures.ROLLUP_GENERATION): ``flask analytics rollup`` and ``purge`` bump
it after their commit, so the figures are exactly as fresh as the last rollup. ``FIGURES_SECONDS``
only bounds how long an entry is kept. docs/ANALYTICS.md, "How fresh the figures are".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask_babel import get_locale

from app import caching
from app.analytics.figures import ROLLUP_GENERATION
from app.insights.ranges import Period

T = TypeVar("T")
FIGURES_SECONDS = 3600
SCOPE = "all"


def figures_key(page: str, period: Period, interval: str = "day") -> str:
    """The cache key of one page's figures (never a person: the same for every superadmin)."""
    return f"{page}:{period.key}:{interval}:{get_locale() or 'en'}:scope={SCOPE}"


def figures(page: str, period: Period, compute: Callable[[], T], interval: str = "day") -> T:
    """``compute()`` (the page's figures), cached until the next rollup."""
    return caching.cached("insights", figures_key(page, period, interval), compute, ttl=FIGURES_SECONDS,
                          generation_of=ROLLUP_GENERATION)
