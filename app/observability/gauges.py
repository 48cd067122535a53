"""Domain gauges, computed when Prometheus scrapes: each one an indexed query or two, or a
stored result (the audit chain's last verification, the backups' last checks) read, never
recomputed: the audit chain is verified by ``flask audit verify``, backups by their drills.

The package that owns a figure declares its gauge and registers it here from its
``init_app`` (:func:`register_gauge`); this module imports none of them.

A gauge whose query fails is left out of that scrape (and logged), so one broken
dependency never hides the others; ``saintara_gauge_errors`` names what failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client.core import GaugeMetricFamily

from app.extensions import db

log = logging.getLogger(__name__)
GAUGES: dict[str, Callable[[], GaugeMetricFamily | list[GaugeMetricFamily]]] = {}


def register_gauge(name: str, compute: Callable[[], GaugeMetricFamily | list[GaugeMetricFamily]]) -> None:
    """Add a domain gauge to every scrape (call from the owning package's init_app; idempotent)."""
    GAUGES[name] = compute


class DomainCollector:
    """Yields every domain gauge; used for one scrape, inside the request's app context."""

    def collect(self):
        errors = GaugeMetricFamily("saintara_gauge_errors", "1 for each domain gauge that could not be computed.",
                                   labels=["gauge"])
        for name, compute in GAUGES.items():
            try:
                families = compute()
                yield from families if isinstance(families, list) else [families]
                errors.add_metric([name], 0)
            except Exception:  # a failing gauge must not take the others (or the scrape) down
                db.session.rollback()
                log.exception("gauge %s could not be computed", name)
                errors.add_metric([name], 1)
        db.session.rollback()  # a scrape reads only; end its transaction
        yield errors
