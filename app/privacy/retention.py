"""Retention: what each category of personal data may be kept for, enforced by a scheduled run.

The periods are typed system settings, named by the categories of
app/personal_data/catalogue.py. ``flask privacy retention`` (cron, daily) works through them:

- customer identity: deactivated customers with no change and no payment within the period
  are erased (pseudonymised, key destroyed; app.privacy.erasure);
- portal accounts: deactivated accounts unused and unchanged within the period are erased;
- payment records: decided payments and decided approval requests older than the period are
  deleted (the law's minimum, ten years, is the setting's lower bound);
- privacy records: consent events older than the period that a later event of the same
  person and purpose has replaced are deleted (the current state and its proof stay);
- security records: the audit log's own purge (``flask audit purge``) applies its setting.

``--dry-run`` counts without changing anything. A real run works in short transactions (one
per person, one per batch of rows), so a run killed half-way leaves whole erasures and whole
batches, and records one PRIVACY_RETENTION audit entry with what it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.orm import aliased

from app.audit import services as audit
from app.audit.models import AuditAction
from app.consent.models import ConsentEvent
from app.database import transaction, utcnow
from app.extensions import db
from app.personal_data.models import DataSubject
from app.platform.models import Approval, Customer, DecisionStatus, Transaction
from app.privacy import erasure
from app.security.actor import Actor
from app.settings import services as settings
from app.users.models import User

BATCH = 1000


@dataclass
class CategoryRun:
    """What one category's rule found and did."""

    key: str
    setting: str
    days: int
    cutoff: datetime
    due: int = 0
    done: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # reason -> how many

    def as_json(self) -> dict:
        return {"setting": self.setting, "days": self.days, "cutoff": self.cutoff.isoformat(), "due": self.due,
                "done": self.done, "refused": self.refused}


def _cutoff(setting: str, now: datetime) -> tuple[int, datetime]:
    days = int(settings.get(setting))
    return days, now - timedelta(days=days)


def _not_erased(kind: str, ref_column):
    return ~exists().where(DataSubject.kind == kind, DataSubject.ref_id == ref_column,
                           DataSubject.erased_at.is_not(None))


def stale_customers(cutoff: datetime):
    """Deactivated customers unchanged since ``cutoff``, with no payment created or decided since."""
    recent_payment = exists().where(Transaction.customer_id == Customer.id, or_(
        Transaction.created_at >= cutoff, Transaction.decided_at >= cutoff))
    return select(Customer.id).where(Customer.is_active.is_(False), Customer.updated_at < cutoff, ~recent_payment,
                                     _not_erased("customer", Customer.id)).order_by(Customer.id)


def stale_accounts(cutoff: datetime):
    """Deactivated accounts unchanged and unused since ``cutoff`` (a customer's own account goes with them)."""
    return select(User.id).where(
        User.is_active_account.is_(False), User.updated_at < cutoff, User.customer_id.is_(None),
        or_(User.last_sign_in_at.is_(None), User.last_sign_in_at < cutoff),
        _not_erased("user", User.id)).order_by(User.id)


def _decided_before(model, cutoff: datetime):
    return and_(model.status != DecisionStatus.PENDING.value, model.decided_at < cutoff)


def _replaced_consents(cutoff: datetime):
    later = aliased(ConsentEvent)
    return select(ConsentEvent.id).where(ConsentEvent.recorded_at < cutoff, exists().where(
        later.subject_kind == ConsentEvent.subject_kind, later.subject_id == ConsentEvent.subject_id,
        later.purpose == ConsentEvent.purpose, later.id > ConsentEvent.id))


def _count(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def _erase_each(actor: Actor, run: CategoryRun, ids: list[int], kind: str) -> None:
    for ref_id in ids:
        try:
            with transaction():
                erasure.erase_subject(actor, kind, ref_id, request_ref="retention")
            run.done += 1
        except erasure.ErasureRefused as exc:
            run.refused[str(exc.reason)] = run.refused.get(str(exc.reason), 0) + 1


def _delete_in_batches(run: CategoryRun, model, condition) -> None:
    while True:
        with transaction():
            ids = db.session.scalars(select(model.id).where(condition).order_by(model.id).limit(BATCH)).all()
            if ids:
                db.session.execute(delete(model).where(model.id.in_(ids)))
        run.done += len(ids)
        if len(ids) < BATCH:
            return


def enforce(actor: Actor, *, dry_run: bool = False, now: datetime | None = None) -> list[CategoryRun]:
    """Apply every retention period (see the module docstring); returns what each rule found and did."""
    now = now or utcnow()
    runs = []
    days, cutoff = _cutoff("retention_customer_identity_days", now)
    customers = CategoryRun("customer_identity", "retention_customer_identity_days", days, cutoff)
    customer_ids = db.session.scalars(stale_customers(cutoff)).all()
    customers.due = len(customer_ids)
    days, cutoff = _cutoff("retention_inactive_accounts_days", now)
    accounts = CategoryRun("staff_accounts", "retention_inactive_accounts_days", days, cutoff)
    account_ids = db.session.scalars(stale_accounts(cutoff)).all()
    accounts.due = len(account_ids)
    days, cutoff = _cutoff("retention_financial_records_days", now)
    payments = CategoryRun("financial_records", "retention_financial_records_days", days, cutoff)
    payments.due = _count(select(Transaction.id).where(_decided_before(Transaction, cutoff))) + _count(
        select(Approval.id).where(_decided_before(Approval, cutoff)))
    days, cutoff = _cutoff("retention_privacy_records_days", now)
    consents = CategoryRun("privacy_records", "retention_privacy_records_days", days, cutoff)
    consents.due = _count(_replaced_consents(cutoff))
    runs = [customers, accounts, payments, consents]
    db.session.rollback()  # end the reading transaction: each step below is a transaction of its own
    if dry_run:
        return runs
    _erase_each(actor, customers, customer_ids, "customer")
    _erase_each(actor, accounts, account_ids, "user")
    _delete_in_batches(payments, Transaction, _decided_before(Transaction, payments.cutoff))
    _delete_in_batches(payments, Approval, _decided_before(Approval, payments.cutoff))
    _delete_in_batches(consents, ConsentEvent, ConsentEvent.id.in_(_replaced_consents(consents.cutoff)))
    with transaction():
        audit.log(actor, AuditAction.PRIVACY_RETENTION, resource_type="retention",
                  description="Retention applied: " + "; ".join(f"{r.key} {r.done} of {r.due}" for r in runs),
                  changes={r.key: r.as_json() for r in runs})
    return runs
