"""Domain gauges, computed when Prometheus scrapes: each one an indexed query or two.

A gauge whose query fails is left out of that scrape (and logged), so one broken
dependency never hides the others; ``saintara_gauge_errors`` names what failed.
"""

from __future__ import annotations

import logging

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from app.extensions import db

log = logging.getLogger(__name__)
ADMIN_ROLES = ("superadmin", "admin")


def pending_approvals() -> GaugeMetricFamily:
    from app.platform.models import Approval, DecisionStatus, Transaction

    family = GaugeMetricFamily("saintara_pending", "Items waiting for a decision, by kind.", labels=["kind"])
    for kind, model in (("approval", Approval), ("transaction", Transaction)):
        count = db.session.scalar(select(func.count()).select_from(model)
                                  .where(model.status == DecisionStatus.PENDING.value))
        family.add_metric([kind], count or 0)
    return family


def admins_with_two_factor() -> GaugeMetricFamily:
    from app.auth.two_factor import enabled_clause
    from app.users.models import User

    active_admins = select(User.id).where(User.role.in_(ADMIN_ROLES), User.is_active_account.is_(True))
    total = db.session.scalar(select(func.count()).select_from(active_admins.subquery())) or 0
    enabled = db.session.scalar(select(func.count()).select_from(
        active_admins.where(enabled_clause()).subquery())) or 0
    family = GaugeMetricFamily(
        "saintara_admins_two_factor_ratio",
        "Share of active superadmins and admins with a second factor (1 when there are none).")
    family.add_metric([], enabled / total if total else 1.0)
    return family


GAUGES = {
    "pending": pending_approvals,
    "admins_two_factor": admins_with_two_factor,
}


class DomainCollector:
    """Yields every domain gauge; used for one scrape, inside the request's app context."""

    def collect(self):
        errors = GaugeMetricFamily("saintara_gauge_errors", "1 for each domain gauge that could not be computed.",
                                   labels=["gauge"])
        for name, compute in GAUGES.items():
            try:
                yield compute()
                errors.add_metric([name], 0)
            except Exception:  # a failing gauge must not take the others (or the scrape) down
                db.session.rollback()
                log.exception("gauge %s could not be computed", name)
                errors.add_metric([name], 1)
        db.session.rollback()  # a scrape reads only; end its transaction
        yield errors
