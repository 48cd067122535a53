"""Realistic demo data: institutions, customers, transactions, approvals and their history.

Deterministic for a given seed. Rows are inserted in bulk; the decisions are
recorded through the audit service, oldest first, so the demo audit log reads
like a real one and its chain verifies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, insert, select

from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import utcnow
from app.extensions import db
from app.platform.models import Approval, Customer, DecisionStatus, Institution, Transaction
from app.security.actor import Actor
from app.users.models import Role, User

FIRST_NAMES = (
    "Adi", "Agus", "Ayu", "Bayu", "Budi", "Citra", "Dewi", "Dian", "Eka", "Fajar", "Fitri", "Gita",
    "Hendra", "Indah", "Intan", "Joko", "Kartika", "Lestari", "Made", "Maya", "Nur", "Putri", "Rina",
    "Rizki", "Sari", "Siti", "Tono", "Utami", "Wahyu", "Wulan", "Yudi", "Yuni",
)
LAST_NAMES = (
    "Pratama", "Saputra", "Wijaya", "Santoso", "Hidayat", "Nugroho", "Kusuma", "Setiawan", "Siregar",
    "Nasution", "Simanjuntak", "Hutapea", "Wibowo", "Purnomo", "Lubis", "Harahap", "Susanto", "Gunawan",
)
INSTITUTION_KINDS = ("Bank", "Koperasi", "BPR", "Fintech", "Asuransi")
INSTITUTION_WORDS = (
    "Nusantara", "Sejahtera", "Mandiri Jaya", "Sentosa", "Makmur", "Harapan", "Amanah", "Bahari",
    "Cahaya", "Merdeka", "Lestari", "Sinar", "Pelita", "Mitra Usaha", "Bumi Raya", "Garuda",
    "Kencana", "Bintang", "Samudra", "Rajawali", "Permata", "Tunas",
)
CITIES = ("Jakarta", "Surabaya", "Bandung", "Medan", "Semarang", "Makassar", "Denpasar", "Yogyakarta")
PAYMENT_PURPOSES = (
    "Pembayaran tagihan listrik", "Transfer antar bank", "Pembayaran sekolah", "Cicilan kendaraan",
    "Pembelian barang dagangan", "Pembayaran sewa", "Top-up dompet digital", "Pembayaran asuransi",
    "Setoran modal usaha", "Pembayaran pemasok",
)
APPROVAL_KINDS = (
    ("limit_increase", "Raise the daily transfer limit to {amount}"),
    ("customer_reactivation", "Reactivate a dormant customer account"),
    ("refund", "Refund {amount} to the customer"),
    ("data_correction", "Correct the customer's registered phone number"),
)
REJECT_REASONS = ("Documents incomplete", "Amount exceeds policy", "Suspected duplicate", "Customer request")


def _requested_change(kind: str, amount: int, phone: str | None, rng: random.Random) -> dict:
    """The change a demo request asks for, as ``{field: {"old": ..., "new": ...}}``."""
    if kind == "limit_increase":
        return {"daily_limit_idr": {"old": max(1_000_000, amount // 4 // 1_000_000 * 1_000_000), "new": amount}}
    if kind == "customer_reactivation":
        return {"is_active": {"old": False, "new": True}}
    if kind == "refund":
        return {"refund_amount_idr": {"old": None, "new": amount}}
    new_phone = f"+62 8{rng.randint(11, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
    return {"phone": {"old": phone, "new": new_phone}}


@dataclass(frozen=True)
class DemoSize:
    institutions: int = 20
    customers: int = 2000
    transactions: int = 10000
    approvals: int = 200


@dataclass(frozen=True)
class DemoSummary:
    institutions: int
    customers: int
    transactions: int
    approvals: int
    audit_entries: int


def database_is_empty() -> bool:
    """True when no institution exists yet (the demo data has not been loaded)."""
    return db.session.scalar(select(func.count()).select_from(Institution)) == 0


def _staff(rng: random.Random, institution_ids: list[int]) -> list[User]:
    """Demo staff who decide things; they have no password and cannot sign in."""
    people = [("Rina Admin", "rina.admin@demo.saintara.id", Role.ADMIN, None),
              ("Bayu Operator", "bayu.operator@demo.saintara.id", Role.ADMIN, None),
              ("Sari Privasi", "privacy.officer@demo.saintara.id", Role.PRIVACY_OFFICER, None)]
    for index, institution_id in enumerate(institution_ids[:5]):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        people.append((name, f"inst.admin{index + 1}@demo.saintara.id", Role.INSTITUTION_ADMIN, institution_id))
    users = [User(display_name=n, email=e, role=r.value, institution_id=i, is_active_account=True)
             for n, e, r, i in people]
    db.session.add_all(users)
    db.session.flush()
    return users


def load_demo_data(actor: Actor, *, seed: int = 42, size: DemoSize = DemoSize()) -> DemoSummary:
    """Insert a realistic, deterministic data set and its audit history (never commits)."""
    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    start = now - timedelta(days=60)

    names = rng.sample(
        [f"{k} {w}" for k in INSTITUTION_KINDS for w in INSTITUTION_WORDS], size.institutions)
    db.session.execute(insert(Institution), [
        {"code": f"INST{i + 1:03d}", "name": name, "is_active": i % 17 != 16,
         "created_at": start + timedelta(hours=i)}
        for i, name in enumerate(names)
    ])
    institution_ids = list(db.session.scalars(select(Institution.id).order_by(Institution.id)))
    staff = _staff(rng, institution_ids)
    deciders = [u for u in staff if u.role == Role.ADMIN.value]

    customer_rows = []
    for i in range(size.customers):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        customer_rows.append({
            "institution_id": rng.choice(institution_ids),
            "full_name": f"{first} {last}",
            "email": f"{first}.{last}.{i + 1}@contoh.co.id".lower(),
            "phone": f"+62 8{rng.randint(11, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            "is_active": rng.random() > 0.03,
            "created_at": start + timedelta(minutes=rng.randint(0, 60 * 24 * 59)),
        })
    db.session.execute(insert(Customer), customer_rows)
    customers = db.session.execute(select(Customer.id, Customer.institution_id)).all()
    customer_details = {row.id: row for row in db.session.execute(
        select(Customer.id, Customer.full_name, Customer.phone))}

    events = []  # (time, action, kwargs) recorded in the audit log oldest first
    tx_rows = []
    for i in range(size.transactions):
        customer_id, institution_id = rng.choice(customers)
        created = start + timedelta(seconds=rng.randint(0, 60 * 86400))
        amount = rng.choice((50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 10_000_000))
        amount += rng.randint(0, 99) * 1000
        row = {
            "reference": f"TRX-{created:%Y%m%d}-{i + 1:06d}",
            "customer_id": customer_id, "institution_id": institution_id, "amount_idr": amount,
            "description": rng.choice(PAYMENT_PURPOSES), "status": DecisionStatus.PENDING.value,
            "created_at": created, "version": 1,
        }
        if created < now - timedelta(days=2) or rng.random() < 0.5:
            decided_at = min(now, created + timedelta(minutes=rng.randint(5, 60 * 48)))
            approved = rng.random() < 0.85
            decider = rng.choice(deciders)
            row.update(status=(DecisionStatus.APPROVED if approved else DecisionStatus.REJECTED).value,
                       decided_by_id=decider.id, decided_at=decided_at,
                       decision_reason=None if approved else rng.choice(REJECT_REASONS), version=2)
            events.append((decided_at, decider, "transaction", row))
        tx_rows.append(row)
    db.session.execute(insert(Transaction), tx_rows)

    approval_rows = []
    for _ in range(size.approvals):
        customer_id, institution_id = rng.choice(customers)
        kind, summary = rng.choice(APPROVAL_KINDS)
        requested_at = start + timedelta(seconds=rng.randint(0, 60 * 86400))
        amount = rng.randint(5, 200) * 1_000_000
        details = customer_details[customer_id]
        row = {
            "kind": kind, "subject_type": "customer", "subject_id": str(customer_id),
            "subject_repr": details.full_name, "institution_id": institution_id,
            "summary": summary.format(amount=f"Rp{amount:,}".replace(",", ".")),
            "payload": {"changes": _requested_change(kind, amount, details.phone, random.Random(customer_id))},
            "status": DecisionStatus.PENDING.value, "requested_at": requested_at,
            "requested_by_id": rng.choice(staff).id, "version": 1,
        }
        if rng.random() < 0.5:
            decided_at = min(now, requested_at + timedelta(hours=rng.randint(1, 72)))
            approved = rng.random() < 0.75
            decider = rng.choice(deciders)
            row.update(status=(DecisionStatus.APPROVED if approved else DecisionStatus.REJECTED).value,
                       decided_by_id=decider.id, decided_at=decided_at,
                       reason=None if approved else rng.choice(REJECT_REASONS), version=2)
            events.append((decided_at, decider, "approval", row))
        approval_rows.append(row)
    db.session.execute(insert(Approval), approval_rows)

    tx_ids = dict(db.session.execute(select(Transaction.reference, Transaction.id)).all())
    # Bulk inserts number rows in order, so the n-th approval row got the n-th id.
    approval_ids = list(db.session.scalars(select(Approval.id).order_by(Approval.id)))
    approval_id_of = {id(row): approval_ids[n] for n, row in enumerate(approval_rows)}
    events.sort(key=lambda e: e[0])
    for when, decider, kind, row in events:
        approved = row["status"] == DecisionStatus.APPROVED.value
        decider_actor = Actor.for_user(decider, ip=f"10.20.0.{decider.id % 250 + 1}",
                                       user_agent="Mozilla/5.0 (demo data)")
        if kind == "transaction":
            action = AuditAction.TRANSACTION_APPROVE if approved else AuditAction.TRANSACTION_REJECT
            audit.log(decider_actor, action, resource_type="transaction",
                      resource_id=tx_ids[row["reference"]], resource_repr=row["reference"],
                      institution_id=row["institution_id"], occurred_at=when,
                      description=f"{'Approved' if approved else 'Rejected'} {row['reference']}",
                      changes={"status": {"before": "pending", "after": row["status"]},
                               "decision_reason": {"before": None, "after": row["decision_reason"]}})
        else:
            action = AuditAction.APPROVAL_APPROVE if approved else AuditAction.APPROVAL_REJECT
            audit.log(decider_actor, action, resource_type="approval", resource_id=approval_id_of[id(row)],
                      resource_repr=f"{row['kind']} #{approval_id_of[id(row)]}: {row['subject_repr']}",
                      institution_id=row["institution_id"], occurred_at=when,
                      description=f"{'Approved' if approved else 'Rejected'} {row['kind']} request",
                      changes={"status": {"before": "pending", "after": row["status"]},
                               "reason": {"before": None, "after": row["reason"]}})
    summary = DemoSummary(len(names), len(customer_rows), len(tx_rows), len(approval_rows), len(events) + 1)
    audit.log(actor, AuditAction.DEMO_DATA_LOAD, description=(
        f"Loaded demo data (seed {seed}): {summary.institutions} institutions, {summary.customers} customers, "
        f"{summary.transactions} transactions, {summary.approvals} approvals"))
    return summary
