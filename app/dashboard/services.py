"""Figures for the dashboard, scoped to what the viewer may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.extensions import db
from app.platform.models import Approval, Customer, DecisionStatus, Institution, Transaction


@dataclass(frozen=True)
class Overview:
    institutions: int
    customers: int
    pending_transactions: int
    pending_amount_idr: int
    pending_approvals: int
    recent_activity: list[AuditLog]


def _scoped(query, column, institution_id: int | None):
    return query if institution_id is None else query.where(column == institution_id)


def overview(institution_id: int | None) -> Overview:
    """Counts for one institution, or for all when ``institution_id`` is None."""
    pending = DecisionStatus.PENDING.value
    institutions = db.session.scalar(
        _scoped(select(func.count()).select_from(Institution), Institution.id, institution_id))
    customers = db.session.scalar(
        _scoped(select(func.count()).select_from(Customer), Customer.institution_id, institution_id))
    tx_count, tx_amount = db.session.execute(
        _scoped(select(func.count(), func.coalesce(func.sum(Transaction.amount_idr), 0))
                .where(Transaction.status == pending), Transaction.institution_id, institution_id)
    ).one()
    approvals = db.session.scalar(
        _scoped(select(func.count()).select_from(Approval).where(Approval.status == pending),
                Approval.institution_id, institution_id))
    recent = db.session.scalars(
        _scoped(select(AuditLog), AuditLog.institution_id, institution_id)
        .order_by(AuditLog.id.desc()).limit(10)
    ).all()
    return Overview(institutions, customers, tx_count, int(tx_amount), approvals, list(recent))
