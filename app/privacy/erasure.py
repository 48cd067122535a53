"""Erasure of a customer or an account: pseudonymise what must be kept, destroy the key.

A customer's payment records are kept for as long as the law requires (the
``financial_records`` category is not erasable); what identifies the person goes: their
name, e-mail address and phone in the customer record and in approval requests about them
become "Erased subject #N", their account (if any) is erased with them, and their key is
destroyed, which makes every value sealed under it in the audit log (and in every backup)
unreadable while the chain still verifies. Each erasure is one transaction: killed half-way,
nothing has happened. The receipt and the audit entry name only the subject number.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, func, select, update

from app import events
from app.audit import services as audit
from app.audit.models import AuditAction
from app.auth.models import BackupCode, PasskeyCredential, TotpCredential
from app.database import after_commit, utcnow
from app.extensions import db
from app.personal_data import ledger, vault
from app.personal_data.catalogue import PERSONAL_FIELDS
from app.personal_data.models import DataSubject
from app.platform.models import Approval, Customer, DecisionStatus, Transaction
from app.security.actor import Actor
from app.security.roles import Role
from app.security.sessions import end_sessions_for_user
from app.users.models import Impersonation, User


class ErasureRefused(Exception):
    """The erasure may not happen now; ``reason`` says why (nothing was changed)."""

    def __init__(self, reason) -> None:
        super().__init__(str(reason))
        self.reason = reason


@dataclass(frozen=True)
class Receipt:
    """What an erasure did, with no personal data: subject numbers and counts."""

    subject_id: int
    kind: str
    ledger_ids: tuple[int, ...]
    accounts_erased: int
    approvals_pseudonymised: int
    payments_kept: int

    def as_json(self) -> dict:
        return {"subject": self.subject_id, "kind": self.kind, "ledger": list(self.ledger_ids),
                "accounts_erased": self.accounts_erased, "approvals_pseudonymised": self.approvals_pseudonymised,
                "payments_kept": self.payments_kept}


def pseudonym(subject_id: int) -> str:
    return f"Erased subject #{subject_id}"


def erased_address(kind: str, subject_id: int) -> str:
    return f"erased-{kind}-{subject_id}@erased.invalid"


def _pseudonymise_customer(ref_id: int, subject_id: int) -> int:
    """Rewrite the customer's identifying fields and the approval requests about them; returns
    how many approvals were rewritten. Idempotent (it also runs again after a restore)."""
    db.session.execute(update(Customer).where(Customer.id == ref_id).values(
        full_name=pseudonym(subject_id), email=erased_address("customer", subject_id), phone=None, is_active=False,
        version=Customer.version + 1))
    approvals = db.session.scalars(select(Approval).where(
        Approval.subject_type == "customer", Approval.subject_id == str(ref_id))).all()
    for approval in approvals:
        approval.subject_repr = pseudonym(subject_id)
        if isinstance(approval.payload, dict):
            approval.payload = {key: (None if key in PERSONAL_FIELDS["customer"] else value)
                                for key, value in approval.payload.items()}
    db.session.flush()
    return len(approvals)


def _pseudonymise_user(ref_id: int, subject_id: int) -> None:
    """Rewrite the account's identifying fields, remove its credentials and second factors."""
    db.session.execute(update(User).where(User.id == ref_id).values(
        email=erased_address("user", subject_id), display_name=pseudonym(subject_id), password_hash=None,
        is_active_account=False, version=User.version + 1))
    db.session.execute(update(Impersonation).where(Impersonation.impersonator_id == ref_id).values(
        impersonator_email=erased_address("user", subject_id)))
    for model in (TotpCredential, BackupCode, PasskeyCredential):
        db.session.execute(delete(model).where(model.user_id == ref_id))
    after_commit(lambda: end_sessions_for_user(ref_id))


def _customer_eraser(ref_id: int) -> None:
    _pseudonymise_customer(ref_id, vault.subject("customer", ref_id)[0])


def _user_eraser(ref_id: int) -> None:
    _pseudonymise_user(ref_id, vault.subject("user", ref_id)[0])


def register() -> None:
    """Tell the ledger how each kind is pseudonymised (used again after a restore)."""
    ledger.on_erase("customer", _customer_eraser)
    ledger.on_erase("user", _user_eraser)


def _hold(kind: str, ref_id: int) -> str | None:
    return db.session.scalar(select(DataSubject.hold_reason).where(
        DataSubject.kind == kind, DataSubject.ref_id == ref_id))


def check_customer(customer: Customer) -> None:
    """Raise :class:`ErasureRefused` when a legal hold or open business keeps the customer."""
    if ledger.is_erased("customer", customer.id):
        raise ErasureRefused(_l("This customer has already been erased."))
    if reason := _hold("customer", customer.id):
        raise ErasureRefused(_l("A legal hold applies: %(reason)s", reason=reason))
    pending_payment = db.session.scalar(select(exists().where(
        Transaction.customer_id == customer.id, Transaction.status == DecisionStatus.PENDING.value)))
    pending_request = db.session.scalar(select(exists().where(
        Approval.subject_type == "customer", Approval.subject_id == str(customer.id),
        Approval.status == DecisionStatus.PENDING.value)))
    if pending_payment or pending_request:
        raise ErasureRefused(_l("Payments or requests about this customer still wait for a decision. "
                                "Decide them first: open business is kept until it is settled."))


def check_user(user: User) -> None:
    """Raise :class:`ErasureRefused` for an account that must stay (a hold, the last superadmin)."""
    if ledger.is_erased("user", user.id):
        raise ErasureRefused(_l("This account has already been erased."))
    if reason := _hold("user", user.id):
        raise ErasureRefused(_l("A legal hold applies: %(reason)s", reason=reason))
    if user.role == Role.SUPERADMIN.value and user.is_active_account:
        others = db.session.scalar(select(exists().where(
            User.role == Role.SUPERADMIN.value, User.is_active_account.is_(True), User.id != user.id)))
        if not others:
            raise ErasureRefused(_l("This is the last active superadmin account."))


def erase_customer(actor: Actor, customer: Customer, *, request_ref: str | None = None) -> Receipt:
    """Erase a customer and their accounts (one transaction, audited PRIVACY_ERASE).

    Raises :class:`ErasureRefused` (nothing changed) when a hold or open business applies.
    """
    check_customer(customer)
    accounts = db.session.scalars(select(User).where(User.customer_id == customer.id)).all()
    for account in accounts:
        check_user(account)
    subject_id = vault.subject("customer", customer.id)[0]
    payments = db.session.scalar(select(func.count()).where(Transaction.customer_id == customer.id)) or 0
    approvals = _pseudonymise_customer(customer.id, subject_id)
    records = [ledger.destroy_key("customer", customer.id, request_ref=request_ref)]
    for account in accounts:
        _pseudonymise_user(account.id, vault.subject("user", account.id)[0])
        records.append(ledger.destroy_key("user", account.id, request_ref=request_ref))
    receipt = Receipt(subject_id, "customer", tuple(r.id for r in records), len(accounts), approvals, payments)
    _audit(actor, receipt, customer.institution_id, request_ref)
    db.session.expire_all()
    return receipt


def erase_user(actor: Actor, user: User, *, request_ref: str | None = None) -> Receipt:
    """Erase a portal account (one transaction, audited PRIVACY_ERASE); a customer's own account
    goes with the customer (:func:`erase_customer`). Raises :class:`ErasureRefused`."""
    check_user(user)
    subject_id = vault.subject("user", user.id)[0]
    _pseudonymise_user(user.id, subject_id)
    record = ledger.destroy_key("user", user.id, request_ref=request_ref)
    receipt = Receipt(subject_id, "user", (record.id,), 1, 0, 0)
    _audit(actor, receipt, user.institution_id, request_ref)
    db.session.expire_all()
    return receipt


def erase_subject(actor: Actor, kind: str, ref_id: int, *, request_ref: str | None = None) -> Receipt:
    """Erase the customer or account ``ref_id`` (the entry point of a data-subject request)."""
    model = {"customer": Customer, "user": User}[kind]
    row = db.session.get(model, ref_id)
    if row is None:
        raise ErasureRefused(_l("There is no such person."))
    return erase_customer(actor, row, request_ref=request_ref) if kind == "customer" else erase_user(
        actor, row, request_ref=request_ref)


def _audit(actor: Actor, receipt: Receipt, institution_id: int | None, request_ref: str | None) -> None:
    # Recorded under the subject number only: the chain must never hold the erased values.
    events.announce(events.person_erased, subject_id=receipt.subject_id, kind=receipt.kind)
    audit.log(actor, AuditAction.PRIVACY_ERASE, resource_type="data_subject", resource_id=receipt.subject_id,
              resource_repr=pseudonym(receipt.subject_id), institution_id=institution_id,
              description=f"Erased {receipt.kind} subject #{receipt.subject_id}"
                          + (f" (request {request_ref})" if request_ref else ""),
              changes={"receipt": receipt.as_json(), "erased_at": utcnow().isoformat()})


def place_hold(actor: Actor, kind: str, ref_id: int, reason: str) -> None:
    """Set a legal hold on a person (erasure is refused while it is set); audited."""
    subject_id = vault.subject(kind, ref_id)[0]
    db.session.execute(update(DataSubject).where(DataSubject.id == subject_id).values(
        hold_reason=reason, held_at=utcnow()))
    audit.log(actor, AuditAction.PRIVACY_HOLD, resource_type="data_subject", resource_id=subject_id,
              resource_repr=f"{kind} subject #{subject_id}", description=f"Legal hold placed: {reason}")


def lift_hold(actor: Actor, kind: str, ref_id: int) -> None:
    """Lift a person's legal hold; audited."""
    subject_id = vault.subject(kind, ref_id)[0]
    db.session.execute(update(DataSubject).where(DataSubject.id == subject_id).values(hold_reason=None, held_at=None))
    audit.log(actor, AuditAction.PRIVACY_HOLD, resource_type="data_subject", resource_id=subject_id,
              resource_repr=f"{kind} subject #{subject_id}", description="Legal hold lifted")
