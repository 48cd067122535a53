"""Retention: removing audit entries older than the retention period, chain intact.

A purge removes the oldest part of the chain (a prefix in id order, up to the first entry
that is still young enough to keep). Before anything is deleted it

1. verifies that prefix (a purge must never destroy the evidence of tampering), and
2. writes an AUDIT_PURGE checkpoint entry: how many entries, their id range and the hash
   of the last one, which is where verification of the kept chain starts;

then deletes in small batches, each its own short transaction (no long locks). An
interrupted purge is finished by the next run; verification copes with the leftovers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text

from app.audit import services as audit
from app.audit.chain import ChainBreak, timestamp_text, walk
from app.audit.facets import clear_facet_cache
from app.audit.integrity import chain_rows, latest_purge
from app.audit.models import AuditAction, AuditLog
from app.database import after_commit, utcnow
from app.extensions import db
from app.security.actor import Actor

DEFAULT_BATCH_SIZE = 5000


class PurgeRefused(Exception):
    """The chain is broken among the entries a purge would remove; nothing was removed."""

    def __init__(self, chain_break: ChainBreak):
        super().__init__(chain_break.detail)
        self.chain_break = chain_break


@dataclass(frozen=True)
class PurgePlan:
    """Which entries a purge removes: ids up to ``last_id``, whose hash the kept chain starts from."""

    cutoff: datetime
    days: int
    first_id: int | None
    last_id: int | None
    last_hash: str | None
    count: int
    resumed: bool = False  # finishing a purge that was interrupted

    @property
    def is_empty(self) -> bool:
        return self.count == 0


def _timestamp(value) -> str:
    return value if isinstance(value, str) else timestamp_text(value)


def plan_purge(*, days: int, now: datetime | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> PurgePlan:
    """What a purge with ``days`` of retention would remove, after verifying those entries.

    Raises :class:`PurgeRefused` when the chain is broken among them.
    """
    cutoff = (now or utcnow()) - timedelta(days=days)
    previous = latest_purge()
    if previous is not None:
        left = db.session.execute(
            select(func.min(AuditLog.id), func.count()).where(AuditLog.id <= previous[0])).one()
        if left[1]:
            return PurgePlan(cutoff, days, left[0], previous[0], previous[1], left[1], resumed=True)
    cutoff_text = timestamp_text(cutoff)
    rows = chain_rows(batch_size)
    try:
        expired = itertools.takewhile(lambda row: _timestamp(row[3]) < cutoff_text, rows)
        report = walk(expired, resume=previous)
    finally:
        rows.close()
    if not report.ok:
        raise PurgeRefused(report.first_break)
    if not report.checked:
        return PurgePlan(cutoff, days, None, None, None, 0)
    return PurgePlan(cutoff, days, report.first_id, report.head_id, report.head_hash, report.checked)


def record_purge(actor: Actor, plan: PurgePlan) -> AuditLog:
    """Queue the AUDIT_PURGE checkpoint of ``plan`` (the caller commits it before deleting)."""
    return audit.log(
        actor, AuditAction.AUDIT_PURGE, resource_type="audit_log",
        resource_repr=f"entries #{plan.first_id}-#{plan.last_id}",
        description=(f"Retention purge of {plan.count} audit entries older than {plan.days} days "
                     f"(entries {plan.first_id} to {plan.last_id}); the kept chain starts after entry "
                     f"{plan.last_id}"),
        changes={"removed": plan.count, "first_id": plan.first_id, "last_id": plan.last_id,
                 "last_hash": plan.last_hash, "cutoff": plan.cutoff.isoformat(), "retention_days": plan.days})


def delete_batch(plan: PurgePlan, batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Delete the next ``batch_size`` entries of the plan (the caller commits); returns how many."""
    if db.session.get_bind().dialect.name == "postgresql":
        # The append-only trigger lets DELETE through only in a transaction that says so.
        db.session.execute(text("SELECT set_config('saintara.audit_purge', 'on', true)"))
    batch = select(AuditLog.id).where(AuditLog.id <= plan.last_id).order_by(AuditLog.id).limit(batch_size)
    result = db.session.execute(
        delete(AuditLog).where(AuditLog.id.in_(batch.scalar_subquery())).execution_options(synchronize_session=False))
    if result.rowcount:
        after_commit(clear_facet_cache)
    return result.rowcount
