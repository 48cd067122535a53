"""The access and portability export of one person (GDPR Art. 15 and 20, UU PDP Art. 7 and 13).

:func:`export_subject` writes a ZIP with, as JSON and CSV: the customer record and the portal
accounts (``customer``, ``accounts``), every payment (``transactions``), the approval requests
about them (``approvals``), the audit entries about them or made by their accounts
(``audit_entries``), their consent history (``consents``), a ``README.txt`` describing each
file and a ``manifest.json`` with counts and the SHA-256 of each file.

Rows are read in keyset batches and written as they come (app.privacy.export_zip stages them
on disk): memory stays flat whatever the number of payments or entries. Other people's data
stays out (app.privacy.export_people). The export reads only; the caller audits it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from flask_babel import force_locale
from sqlalchemy import String, and_, cast, func, or_, select

from app.auth.models import PasskeyCredential, TotpCredential
from app.database import utcnow
from app.extensions import db
from app.personal_data import ledger, vault
from app.platform.models import Approval, Customer, Institution, Transaction
from app.privacy import export_audit
from app.privacy.export_people import NoSuchPerson, Parties, Person, Revealer, find_person, own_subject_ids
from app.privacy.export_readme import readme
from app.privacy.export_zip import ExportWriter
from app.users.models import User

__all__ = ["ExportSummary", "NoSuchPerson", "consent_history", "export_subject", "use_consent_history"]

BATCH = 5000
Progress = Callable[[str, float], None]
ConsentHistory = Callable[[tuple[str, int]], list[dict]]
_consent_source: list[ConsentHistory] = []

CUSTOMER_COLUMNS = ("id", "institution", "full_name", "email", "phone", "active", "registered_at", "updated_at",
                    "erased")
ACCOUNT_COLUMNS = ("id", "email", "display_name", "role", "institution", "active", "created_at", "last_sign_in_at",
                   "password_changed_at", "authenticator_app", "passkeys", "erased")
TRANSACTION_COLUMNS = ("id", "reference", "institution", "amount_idr", "description", "status", "created_at",
                       "decided_at", "decided_by", "decision_reason")
APPROVAL_COLUMNS = ("id", "kind", "about", "summary", "details", "status", "requested_at", "requested_by",
                    "decided_at", "decided_by", "reason")
CONSENT_COLUMNS = ("id", "purpose", "action", "notice_version", "notice_material", "recorded_at", "source",
                   "evidence", "recorded_by", "counts_now")


def use_consent_history(history: ConsentHistory) -> None:
    """Wire in the consent store's ``history(subject)`` (app.consent.services.history); the
    privacy package's ``init_app`` does, so this module does not import the consent store."""
    _consent_source[:] = [history]


def consent_history(subject: tuple[str, int]) -> list[dict] | None:
    """The subject's consent events, oldest first, or None when no consent store is wired in."""
    return _consent_source[0](subject) if _consent_source else None


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: the person and the number of records per dataset (no personal data)."""

    kind: str
    ref_id: int
    counts: dict
    manifest: dict


class _Tracker:
    """Reports stage and percent: 95 % spread over the records to write, the rest for packing."""

    def __init__(self, report: Progress, total: int) -> None:
        self.report, self.total, self.done = report, max(total, 1), 0

    def stage(self, name: str) -> None:
        self.report(name, self.percent)

    def advance(self, name: str, n: int) -> None:
        self.done += n
        self.report(name, self.percent)

    @property
    def percent(self) -> float:
        return min(95.0, 95.0 * self.done / self.total)


def _approval_conditions(person: Person) -> list:
    about = [and_(Approval.subject_type == "user", Approval.subject_id.in_([str(i) for i in person.account_ids]))]
    if person.customer_id is not None:
        payments = select(cast(Transaction.id, String)).where(Transaction.customer_id == person.customer_id)
        about += [and_(Approval.subject_type == "customer", Approval.subject_id == str(person.customer_id)),
                  and_(Approval.subject_type == "transaction", Approval.subject_id.in_(payments))]
    return [or_(*about)]


def export_subject(kind: str, ref_id: int, writer: ExportWriter, progress: Progress | None = None) -> ExportSummary:
    """Write the export of customer or account ``ref_id`` into ``writer`` and close it.

    ``progress(stage, percent)`` is told how far it got. Raises NoSuchPerson; on any error
    nothing is left behind (the writer is aborted).
    """
    try:
        return _export(find_person(kind, ref_id), writer, progress or (lambda stage, percent: None))
    except BaseException:
        writer.abort()
        raise


def _export(person: Person, writer: ExportWriter, report: Progress) -> ExportSummary:
    report("profile", 0.0)
    with force_locale("en"):  # the files hold data, not prose: "erased subject #N" in one language
        opener = vault.Opener()
    parties, revealer = Parties(person), Revealer(own_subject_ids(person), opener)
    approval_ids = list(db.session.scalars(select(Approval.id).where(*_approval_conditions(person))
                                           .order_by(Approval.id)))
    paths = export_audit.paths(person, approval_ids)
    payments = 0 if person.customer_id is None else db.session.scalar(
        select(func.count()).where(Transaction.customer_id == person.customer_id)) or 0
    tracker = _Tracker(report, 1 + payments + len(approval_ids) + export_audit.count(paths))
    counts = {"customer": _write_customer(writer, person), "accounts": _write_accounts(writer, person)}
    tracker.advance("profile", 1)
    if person.customer_id is not None:
        tracker.stage("transactions")
        counts["transactions"] = _write_transactions(writer, person, parties, tracker)
        tracker.stage("approvals")
        counts["approvals"] = _write_approvals(writer, person, parties, revealer, tracker)
    tracker.stage("audit")
    with writer.dataset("audit_entries", export_audit.COLUMNS) as dataset:
        entries = export_audit.EntryWriter(person, parties, revealer, approval_ids)
        counts["audit_entries"] = export_audit.write_entries(
            dataset, paths, entries, lambda n: tracker.advance("audit", n))
    tracker.stage("consents")
    history = consent_history(person.consent_subject)
    if history is not None:
        counts["consents"] = _write_consents(writer, history, parties)
    report("packing", 95.0)
    about = {"subject": {"kind": person.kind, "id": person.ref_id}, "created_at": utcnow().isoformat(),
             "counts": counts, "consents_available": history is not None}
    manifest = writer.close(readme(person, counts, history is not None), about)
    report("packing", 100.0)
    return ExportSummary(person.kind, person.ref_id, counts, manifest)


def _write_customer(writer: ExportWriter, person: Person) -> int:
    with writer.dataset("customer", CUSTOMER_COLUMNS) as dataset:
        if person.customer_id is not None:
            row = db.session.execute(select(Customer, Institution.name).join(
                Institution, Institution.id == Customer.institution_id).where(Customer.id == person.customer_id)).one()
            customer, institution = row
            dataset.write({"id": customer.id, "institution": institution, "full_name": customer.full_name,
                           "email": customer.email, "phone": customer.phone, "active": customer.is_active,
                           "registered_at": customer.created_at, "updated_at": customer.updated_at,
                           "erased": ledger.is_erased("customer", customer.id)})
        return dataset.rows


def _write_accounts(writer: ExportWriter, person: Person) -> int:
    totp = select(TotpCredential.id).where(TotpCredential.user_id == User.id, TotpCredential.confirmed_at.is_not(None))
    passkeys = select(func.count(PasskeyCredential.id)).where(PasskeyCredential.user_id == User.id)
    query = (select(User, Institution.name, totp.exists().label("totp"), passkeys.scalar_subquery().label("passkeys"))
             .outerjoin(Institution, Institution.id == User.institution_id)
             .where(User.id.in_(person.account_ids)).order_by(User.id))
    with writer.dataset("accounts", ACCOUNT_COLUMNS) as dataset:
        for user, institution, has_totp, passkey_count in db.session.execute(query):
            dataset.write({"id": user.id, "email": user.email, "display_name": user.display_name, "role": user.role,
                           "institution": institution, "active": user.is_active_account, "created_at": user.created_at,
                           "last_sign_in_at": user.last_sign_in_at, "password_changed_at": user.password_changed_at,
                           "authenticator_app": bool(has_totp), "passkeys": passkey_count or 0,
                           "erased": ledger.is_erased("user", user.id)})
        return dataset.rows


def _keyset(query, key, execute=None) -> Iterator[list]:
    """``query`` in batches of BATCH ordered by ``key`` (a unique column), each after the last one
    read; through the session (ORM entities), or ``execute`` (a connection's, for plain rows)."""
    batch, last = BATCH, None
    execute = execute or db.session.execute
    while True:
        page = query if last is None else query.where(key > last)
        rows = execute(page.order_by(key).limit(batch)).all()
        if not rows:
            return
        yield rows
        if len(rows) < batch:
            return
        last = rows[-1][0]


def _write_transactions(writer: ExportWriter, person: Person, parties: Parties, tracker: _Tracker) -> int:
    t, institution = Transaction.__table__.c, Institution.__table__.c
    # Plain rows through the connection (not ORM rows): this runs for every payment exported.
    query = (select(t.id, t.reference, institution.name.label("institution"), t.amount_idr, t.description, t.status,
                    t.created_at, t.decided_at, t.decided_by_id, t.decision_reason)
             .join(Institution.__table__, institution.id == t.institution_id)
             .where(t.customer_id == person.customer_id))
    name = parties.name
    with writer.dataset("transactions", TRANSACTION_COLUMNS) as dataset:
        for rows in _keyset(query, t.id, db.session.connection().execute):
            (ids, references, institutions, amounts, descriptions, statuses, created, decided, deciders,
             reasons) = zip(*rows, strict=True)
            parties.learn(set(deciders))
            dataset.write_columns([
                ids, references, institutions, amounts, descriptions, statuses, list(map(datetime.isoformat, created)),
                [None if at is None else at.isoformat() for at in decided],
                [name(by) if at else None for by, at in zip(deciders, decided, strict=True)], reasons])
            tracker.advance("transactions", len(rows))
        return dataset.rows


def _write_approvals(writer: ExportWriter, person: Person, parties: Parties, revealer: Revealer,
                     tracker: _Tracker) -> int:
    query = select(Approval.id, Approval).where(*_approval_conditions(person))
    with writer.dataset("approvals", APPROVAL_COLUMNS) as dataset:
        for rows in _keyset(query, Approval.id):
            parties.learn({r.Approval.requested_by_id for r in rows} | {r.Approval.decided_by_id for r in rows})
            for _id, a in rows:
                dataset.write({"id": a.id, "kind": a.kind, "about": f"{a.subject_type} {a.subject_id}",
                               "summary": revealer.text(a.summary), "details": revealer.json(a.payload),
                               "status": a.status, "requested_at": a.requested_at,
                               "requested_by": parties.name(a.requested_by_id), "decided_at": a.decided_at,
                               "decided_by": parties.name(a.decided_by_id) if a.decided_at else None,
                               "reason": a.reason})
            tracker.advance("approvals", len(rows))
        return dataset.rows


def _write_consents(writer: ExportWriter, history: list[dict], parties: Parties) -> int:
    parties.learn({event.get("actor_id") for event in history})
    with writer.dataset("consents", CONSENT_COLUMNS) as dataset:
        for event in history:
            dataset.write({**{column: event.get(column) for column in CONSENT_COLUMNS},
                           "recorded_by": parties.name(event.get("actor_id"))})
        return dataset.rows
