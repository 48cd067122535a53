"""Approving and rejecting: transactions and approval requests, one at a time or in bulk.

Two people deciding the same item at once: the row is locked (``SELECT ... FOR
UPDATE``), so the second waits for the first to commit and then finds the item
decided. It gets :class:`AlreadyDecided`, naming who decided and when; exactly one
decision is recorded. The version the person saw is checked as well, so a decision
made on an outdated page is refused too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask_babel import lazy_gettext as _l
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from app import events
from app.audit import services as audit
from app.audit.models import AuditAction, AuditResult
from app.database import utcnow
from app.extensions import db
from app.platform.models import Approval, DecisionStatus, Transaction
from app.platform.services import NotVisible, PlatformError, ensure_in_scope
from app.security.actor import Actor

MAX_REASON = 1000
MAX_BULK = 100
PENDING = DecisionStatus.PENDING.value


class DecisionRefused(PlatformError):
    pass


class AlreadyDecided(PlatformError):
    """Someone decided the item first; nothing was changed."""

    def __init__(self, item):
        super().__init__("already decided")
        self.item = item
        self.status: str = item.status
        self.decided_at: datetime | None = item.decided_at
        self.decided_by_name: str = item.decided_by.display_name if item.decided_by else _l("someone")


class ChangedMeanwhile(PlatformError):
    """The item is still pending but changed since the page was loaded."""


class BulkConflict(PlatformError):
    """Some selected approvals are no longer as confirmed; nothing was approved."""

    def __init__(self, changed: list[Approval]):
        super().__init__("bulk conflict")
        self.changed = changed


def _reason(approve: bool, reason: str | None) -> str | None:
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise DecisionRefused(_l("Use at most %(n)s characters for the reason.", n=MAX_REASON))
    if not approve and len(reason) < 3:
        raise DecisionRefused(_l("Give a reason for the rejection."))
    return reason or None


def _locked(model, row_id: int):
    row = db.session.execute(
        select(model).where(model.id == row_id).with_for_update()
        .execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None:
        raise NotVisible()
    return row


def _decide(actor: Actor, row, *, approve: bool, reason: str | None, reason_field: str,
            expected_version: int | None, actions: tuple[AuditAction, AuditAction], description: str) -> None:
    action = actions[0] if approve else actions[1]
    if row.status != PENDING:
        audit.log(actor, action, resource=row, result=AuditResult.FAILURE,
                  description=f"Refused: {row.audit_repr()} was already {row.status}")
        raise AlreadyDecided(row)
    if expected_version is not None and row.version != expected_version:
        raise ChangedMeanwhile(_l("This item changed since you opened it. Check it again before deciding."))
    fields = ("status", "decided_by_id", "decided_at", reason_field)
    before = audit.snapshot(row, fields)
    row.status = (DecisionStatus.APPROVED if approve else DecisionStatus.REJECTED).value
    row.decided_by_id, row.decided_at = actor.user_id, utcnow()
    setattr(row, reason_field, reason)
    db.session.flush()
    audit.log(actor, action, resource=row, description=description,
              changes=audit.diff(before, audit.snapshot(row, fields)))
    if isinstance(row, Transaction):
        events.announce(events.transaction_decided, transaction_id=row.id, institution_id=row.institution_id,
                        status=row.status, actor_id=actor.user_id)
    else:
        events.announce(events.approval_decided, approval_id=row.id, institution_id=row.institution_id,
                        status=row.status, actor_id=actor.user_id)


def decide_transaction(actor: Actor, transaction_id: int, *, approve: bool, reason: str | None = None,
                       expected_version: int | None = None) -> Transaction:
    """Approve or reject a pending transaction (audited TRANSACTION_APPROVE / _REJECT).

    Raises NotVisible, DecisionRefused (no reason for a rejection), AlreadyDecided, ChangedMeanwhile.
    """
    reason = _reason(approve, reason)
    tx = _locked(Transaction, transaction_id)
    ensure_in_scope(actor, tx.institution_id)
    verb = "Approved" if approve else "Rejected"
    _decide(actor, tx, approve=approve, reason=reason, reason_field="decision_reason",
            expected_version=expected_version, description=f"{verb} {tx.reference}",
            actions=(AuditAction.TRANSACTION_APPROVE, AuditAction.TRANSACTION_REJECT))
    return tx


def _check_not_own(actor: Actor, approval: Approval) -> None:
    if actor.user_id is not None and approval.requested_by_id == actor.user_id:
        raise DecisionRefused(_l("You asked for this yourself; another person must decide it."))


def decide_approval(actor: Actor, approval_id: int, *, approve: bool, reason: str | None = None,
                    expected_version: int | None = None) -> Approval:
    """Approve or reject a pending approval request (audited APPROVAL_APPROVE / _REJECT).

    The person who asked cannot decide (four eyes). Raises NotVisible, DecisionRefused,
    AlreadyDecided, ChangedMeanwhile.
    """
    reason = _reason(approve, reason)
    approval = _locked(Approval, approval_id)
    ensure_in_scope(actor, approval.institution_id)
    if approval.status == PENDING:
        _check_not_own(actor, approval)
    verb = "Approved" if approve else "Rejected"
    _decide(actor, approval, approve=approve, reason=reason, reason_field="reason",
            expected_version=expected_version, description=f"{verb} {approval.kind} request",
            actions=(AuditAction.APPROVAL_APPROVE, AuditAction.APPROVAL_REJECT))
    return approval


def bulk_approve(actor: Actor, versions: dict[int, int], *, reason: str | None = None) -> list[Approval]:
    """Approve the selected requests at the versions the person confirmed, all or none.

    Each approval gets its own APPROVAL_APPROVE entry. Raises DecisionRefused (empty or
    too large a selection, one's own request), NotVisible, or BulkConflict listing
    those decided or changed since the confirmation page.
    """
    if not versions:
        raise DecisionRefused(_l("Select at least one approval request."))
    if len(versions) > MAX_BULK:
        raise DecisionRefused(_l("Approve at most %(n)s requests at once.", n=MAX_BULK))
    reason = _reason(True, reason)
    # Locked in id order, so two bulk approvals never wait for each other in a circle.
    rows: Sequence[Approval] = db.session.scalars(
        select(Approval).where(Approval.id.in_(list(versions))).order_by(Approval.id).with_for_update()
        .execution_options(populate_existing=True)).all()
    if len(rows) != len(versions):
        raise NotVisible()
    for row in rows:
        ensure_in_scope(actor, row.institution_id)
        _check_not_own(actor, row)
    changed = [row for row in rows if row.status != PENDING or row.version != versions[row.id]]
    if changed:
        raise BulkConflict(changed)
    for row in rows:
        _decide(actor, row, approve=True, reason=reason, reason_field="reason", expected_version=versions[row.id],
                description=f"Approved {row.kind} request (bulk approval of {len(rows)})",
                actions=(AuditAction.APPROVAL_APPROVE, AuditAction.APPROVAL_REJECT))
    return list(rows)


def pending_approvals() -> GaugeMetricFamily:
    """Prometheus gauge: items waiting for a decision, by kind (registered by the platform's init_app)."""
    family = GaugeMetricFamily("saintara_pending", "Items waiting for a decision, by kind.", labels=["kind"])
    for kind, model in (("approval", Approval), ("transaction", Transaction)):
        count = db.session.scalar(select(func.count()).select_from(model)
                                  .where(model.status == DecisionStatus.PENDING.value))
        family.add_metric([kind], count or 0)
    return family
