"""The naive ways the privacy benchmark compares ours with (scripts/bench/privacy.py).

- :class:`NaiveExport`: an access export written the obvious way: everything through the ORM
  into memory, each sealed value revealed on its own (a fresh vault opener: the subject's key
  read and unwrapped for every value), JSON and CSV built as strings, then ``zipfile``. It gives
  the same records as ours; the benchmark checks that.
- :func:`erase_naive`: erasure without per-person keys: rewrite every audit entry that mentions
  the person (their sealed values become "erased subject #N") and hash the chain again from
  the first rewritten entry to the head, in one transaction that the benchmark rolls back.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import zipfile
from pathlib import Path

from sqlalchemy import and_, or_, select, text

from app.audit import integrity
from app.audit.chain import entry_hash
from app.audit.models import GENESIS_HASH, AuditLog
from app.auth.models import PasskeyCredential, TotpCredential
from app.escaping import csv_cell
from app.extensions import db
from app.personal_data import vault
from app.personal_data.models import DataSubject
from app.platform.models import Approval, Customer, Transaction
from app.privacy import export
from app.privacy.export_cells import json_value
from app.privacy.export_people import OTHER_PERSON, SYSTEM, find_person
from app.privacy.export_readme import readme
from app.users.models import User
from scripts.bench.privacy_data import account_of


class NaiveExport:
    """The obvious way: everything through the ORM into memory, each sealed value revealed on its own
    (a fresh opener: the subject's key read and unwrapped for every value), JSON and CSV built as
    strings, then zipfile. Gives the same records as ours (checked after the runs)."""

    TOKEN = re.compile(r"s1~(\d{1,18})~[A-Za-z0-9_-]*")

    def __init__(self, customer_id: int) -> None:
        self.customer = db.session.get(Customer, customer_id)
        self.accounts = db.session.scalars(select(User).where(User.customer_id == customer_id)
                                           .order_by(User.id)).all()
        self.own_accounts = {a.id for a in self.accounts}
        self.own_subjects = set(db.session.scalars(select(DataSubject.id).where(or_(
            and_(DataSubject.kind == "customer", DataSubject.ref_id == customer_id),
            and_(DataSubject.kind == "user", DataSubject.ref_id.in_(self.own_accounts))))))

    def reveal(self, value):
        if not isinstance(value, str) or vault.PREFIX not in value:
            return value

        def one(match):
            if int(match.group(1)) not in self.own_subjects:
                return OTHER_PERSON
            return vault.Opener().reveal(match.group(0))

        return self.TOKEN.sub(one, value)

    def reveal_json(self, value):
        if isinstance(value, dict):
            return {k: self.reveal_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.reveal_json(v) for v in value]
        return self.reveal(value)

    def name(self, user_id):
        if user_id is None:
            return None
        user = db.session.get(User, user_id)
        if user_id in self.own_accounts:
            return user.email
        return f"staff member ({user.role})" if user and user.role else "staff member"

    def datasets(self) -> dict[str, list[dict]]:
        c, customer_id = self.customer, self.customer.id
        out = {"customer": [{"id": c.id, "institution": c.institution.name, "full_name": c.full_name,
                             "email": c.email, "phone": c.phone, "active": c.is_active, "registered_at": c.created_at,
                             "updated_at": c.updated_at, "erased": False}]}
        out["accounts"] = [{
            "id": a.id, "email": a.email, "display_name": a.display_name, "role": a.role,
            "institution": a.institution.name if a.institution else None, "active": a.is_active_account,
            "created_at": a.created_at, "last_sign_in_at": a.last_sign_in_at,
            "password_changed_at": a.password_changed_at,
            "authenticator_app": db.session.query(TotpCredential).filter(
                TotpCredential.user_id == a.id, TotpCredential.confirmed_at.is_not(None)).count() > 0,
            "passkeys": db.session.query(PasskeyCredential).filter(PasskeyCredential.user_id == a.id).count(),
            "erased": False} for a in self.accounts]
        payments = db.session.scalars(select(Transaction).where(Transaction.customer_id == customer_id)
                                      .order_by(Transaction.id)).all()
        out["transactions"] = [{
            "id": t.id, "reference": t.reference, "institution": t.institution.name, "amount_idr": t.amount_idr,
            "description": t.description, "status": t.status, "created_at": t.created_at, "decided_at": t.decided_at,
            "decided_by": self.name(t.decided_by_id) if t.decided_at else None, "decision_reason": t.decision_reason,
        } for t in payments]
        payment_ids = {str(t.id) for t in payments}
        approvals = [a for a in db.session.scalars(select(Approval).order_by(Approval.id)).all()
                     if (a.subject_type == "customer" and a.subject_id == str(customer_id))
                     or (a.subject_type == "user" and a.subject_id in {str(i) for i in self.own_accounts})
                     or (a.subject_type == "transaction" and a.subject_id in payment_ids)]
        out["approvals"] = [{
            "id": a.id, "kind": a.kind, "about": f"{a.subject_type} {a.subject_id}", "summary": self.reveal(a.summary),
            "details": self.reveal_json(a.payload), "status": a.status, "requested_at": a.requested_at,
            "requested_by": self.name(a.requested_by_id), "decided_at": a.decided_at,
            "decided_by": self.name(a.decided_by_id) if a.decided_at else None, "reason": a.reason,
        } for a in approvals]
        out["audit_entries"] = self.audit_entries({str(a.id) for a in approvals})
        history = export.consent_history(("customer", customer_id))
        out["consents"] = [{**{k: e.get(k) for k in export.CONSENT_COLUMNS},
                            "recorded_by": self.name(e.get("actor_id"))} for e in history or []]
        return out

    def audit_entries(self, approval_ids: set[str]) -> list[dict]:
        accounts = {str(i) for i in self.own_accounts}
        entries = db.session.scalars(select(AuditLog).where(or_(
            and_(AuditLog.resource_type == "customer", AuditLog.resource_id == str(self.customer.id)),
            and_(AuditLog.resource_type == "user", AuditLog.resource_id.in_(accounts)),
            and_(AuditLog.resource_type == "approval", AuditLog.resource_id.in_(approval_ids)),
            AuditLog.actor_id.in_(self.own_accounts)))).all()

        def relation(e):
            if e.resource_type == "customer" and e.resource_id == str(self.customer.id):
                return 0
            if e.resource_type == "user" and e.resource_id in accounts:
                return 1
            if e.resource_type == "approval" and e.resource_id in approval_ids:
                return 2
            return 3

        records = []
        for e in sorted(entries, key=lambda e: (relation(e), e.created_at, e.id)):
            own = e.actor_id in self.own_accounts
            if e.actor_id is not None:
                actor = self.reveal(e.actor_email) if own else self.name(e.actor_id)
            else:
                actor = OTHER_PERSON if vault.is_sealed(e.actor_email) or "@" in (e.actor_email or "") else (
                    e.actor_email or SYSTEM)
            own_action = own and e.impersonator_id is None
            records.append({
                "id": e.id, "time": e.created_at, "relation": ("about_customer", "about_account", "about_approval",
                                                               "by_account")[relation(e)],
                "action": e.action, "result": e.result, "actor": actor, "on_behalf_of": self.name(e.impersonator_id),
                "resource_type": e.resource_type, "resource_id": e.resource_id,
                "resource": self.reveal(e.resource_repr),
                "description": self.reveal(e.description), "changes": self.reveal_json(e.changes),
                "ip": e.ip if own_action else None, "user_agent": e.user_agent if own_action else None})
        return records

    def write(self, path: Path) -> None:
        files = {}
        datasets = self.datasets()
        for name, records in datasets.items():
            plain = [{k: json_value(v) for k, v in r.items()} for r in records]
            files[f"{name}.json"] = json.dumps(plain, ensure_ascii=False, indent=0)
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\r\n")
            columns = list(records[0]) if records else []
            writer.writerow(columns)
            for r in plain:
                writer.writerow([json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, (dict, list))
                                 else csv_cell(v) for v in r.values()])
            files[f"{name}.csv"] = buffer.getvalue()
        person = find_person("customer", self.customer.id)
        counts = {name: len(records) for name, records in datasets.items()}
        files["README.txt"] = readme(person, counts, True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in files.items():
                archive.writestr(name, content)
            archive.writestr("manifest.json", json.dumps({"counts": counts}))



REWRITTEN = ("actor_email", "impersonator_email", "resource_repr", "description")


def _pattern(customer_id: int) -> str:
    """A regular expression matching the sealed values of the customer and of their account."""
    subjects = db.session.scalars(select(DataSubject.id).where(or_(
        and_(DataSubject.kind == "customer", DataSubject.ref_id == customer_id),
        and_(DataSubject.kind == "user", DataSubject.ref_id == account_of(customer_id))))).all()
    return f"s1~({'|'.join(str(s) for s in subjects)})~[A-Za-z0-9_-]*"


def erase_naive(app, customer_id: int, *, verify: bool = False) -> dict:
    """Rewrite every entry that mentions the customer or their account (their sealed values become
    "erased subject #N") and re-hash the chain from the first rewritten entry to the head, in one
    transaction that is then rolled back. ``verify`` walks the chain inside it first (the naive
    rewrite must leave a chain that verifies)."""
    with app.app_context():
        pattern = _pattern(customer_id)
        raw = db.session.connection().connection.dbapi_connection
        started = time.perf_counter()
        with raw.cursor() as cur:
            cur.execute("ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only")
            sets = ", ".join(f"{c} = regexp_replace({c}, %(p)s, 'erased subject #\\1', 'g')" for c in REWRITTEN)
            where = " OR ".join(f"{c} ~ %(p)s" for c in REWRITTEN)
            cur.execute(f"UPDATE audit_logs SET {sets}, changes = regexp_replace(changes::text, %(p)s, "  # noqa: S608
                        f"'erased subject #\\1', 'g')::json WHERE {where} OR changes::text ~ %(p)s RETURNING id",
                        {"p": pattern})
            rewritten = [r[0] for r in cur.fetchall()]
            found = time.perf_counter() - started
            first = min(rewritten)
            cur.execute("SELECT hash FROM audit_logs WHERE id < %s ORDER BY id DESC LIMIT 1", (first,))
            row = cur.fetchone()
            prev = row[0] if row else GENESIS_HASH
            cur.execute("CREATE TEMPORARY TABLE rehash (id bigint, prev_hash text, hash text) ON COMMIT DROP")
        rehashed = 0
        sql = integrity.chain_sql("postgresql").replace(" ORDER BY id", " WHERE id >= %s ORDER BY id")
        with raw.cursor(name="naive_rehash") as reader, raw.cursor() as writer:
            reader.itersize = 20_000
            reader.execute(sql, (first,))
            while rows := reader.fetchmany(20_000):
                buffer = io.StringIO()
                for row in rows:
                    digest = entry_hash(prev, row[3:])
                    buffer.write(f"{row[0]}\t{prev}\t{digest}\n")
                    prev = digest
                buffer.seek(0)
                writer.copy_expert("COPY rehash FROM STDIN", buffer)
                rehashed += len(rows)
        hashed = time.perf_counter() - started
        with raw.cursor() as cur:
            cur.execute("UPDATE audit_logs a SET prev_hash = r.prev_hash, hash = r.hash "
                        "FROM rehash r WHERE a.id = r.id")
        wall = time.perf_counter() - started
        ok = None
        if verify:
            ok = integrity.verify_chain(20_000).ok
        db.session.rollback()
    return {"wall": wall, "find": found, "rehash": wall - found, "hash": hashed - found, "update": wall - hashed,
            "rewritten": len(rewritten), "rehashed": rehashed,
            "first": first, "chain_ok": ok}


def naive_scan(app, customer_id: int) -> dict:
    """The naive way's search for the entries that mention the person, alone (read only)."""
    with app.app_context():
        pattern = _pattern(customer_id)
        where = " OR ".join(f"{c} ~ :p" for c in REWRITTEN)
        started = time.perf_counter()
        ids = db.session.execute(text(f"SELECT id FROM audit_logs WHERE {where} OR changes::text ~ :p"),  # noqa: S608
                                 {"p": pattern}).scalars().all()
        found = time.perf_counter() - started
        db.session.rollback()
    return {"find": found, "first": min(ids), "rewritten": len(ids)}


