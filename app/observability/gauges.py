"""Domain gauges, computed when Prometheus scrapes: each one an indexed query or two, or a
stored result (the audit chain's last verification, the backups' last checks) read, never
recomputed: the audit chain is verified by ``flask audit verify``, backups by their drills.

A gauge whose query fails is left out of that scrape (and logged), so one broken
dependency never hides the others; ``saintara_gauge_errors`` names what failed.
"""

from __future__ import annotations

import logging
import math

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


def newest_verified_backup() -> GaugeMetricFamily:
    from app.backups.catalogue import newest_verified_backup_age

    age = newest_verified_backup_age()
    family = GaugeMetricFamily(
        "saintara_backup_newest_verified_age_seconds",
        "Age of the newest backup that passed verification (+Inf when there is none).")
    family.add_metric([], age.total_seconds() if age is not None else math.inf)
    return family


def last_restore_drill() -> list[GaugeMetricFamily]:
    from app.backups.models import PASSED, Backup

    newest = db.session.execute(
        select(Backup.drill_status, Backup.drilled_at).where(Backup.drilled_at.is_not(None))
        .order_by(Backup.drilled_at.desc()).limit(1)).first()
    success = GaugeMetricFamily(
        "saintara_restore_drill_last_success",
        "1 when the newest restore drill matched its manifest, 0 when it failed (NaN: never drilled).")
    success.add_metric([], math.nan if newest is None else float(newest.drill_status == PASSED))
    when = GaugeMetricFamily("saintara_restore_drill_last_timestamp_seconds",
                             "When the newest restore drill ran, in seconds since 1970 (NaN: never).")
    when.add_metric([], math.nan if newest is None else newest.drilled_at.timestamp())
    return [success, when]


def audit_chain() -> list[GaugeMetricFamily]:
    from app.audit.integrity import last_verification

    run = last_verification()
    ok = GaugeMetricFamily(
        "saintara_audit_chain_ok",
        "1 when the newest verification of the audit hash chain passed, 0 when it found a break (NaN: never run).")
    ok.add_metric([], math.nan if run is None else float(run.ok))
    when = GaugeMetricFamily("saintara_audit_chain_verified_timestamp_seconds",
                             "When the audit chain was last verified, in seconds since 1970 (NaN: never).")
    when.add_metric([], math.nan if run is None else run.finished_at.timestamp())
    return [ok, when]


GAUGES = {
    "pending": pending_approvals,
    "admins_two_factor": admins_with_two_factor,
    "backup_age": newest_verified_backup,
    "restore_drill": last_restore_drill,
    "audit_chain": audit_chain,
}


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
