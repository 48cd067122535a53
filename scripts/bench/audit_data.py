"""Realistic audit entries for the benchmark, generated fast and chained, written with COPY.

A year of activity of a platform with 20 institutions, 60 staff and 20,000 customers:
sign-ins (some refused), transactions created and decided, customers edited, approvals,
settings, impersonation by support now and then. A handful of rare surnames appear in
a few entries each, so a search for a rare term has something to find.
"""

from __future__ import annotations

import io
import random
import uuid
from datetime import UTC, datetime, timedelta

from app.audit.chain import entry_hash
from app.audit.models import GENESIS_HASH, canonical_json

INSTITUTIONS = 20
STAFF = 60
CUSTOMERS = 20_000
FIRST = ("Adi", "Agus", "Ayu", "Bayu", "Budi", "Citra", "Dewi", "Dian", "Eka", "Fajar", "Fitri", "Gita", "Hendra",
         "Indah", "Intan", "Joko", "Kartika", "Lestari", "Made", "Maya", "Nur", "Putri", "Rina", "Rizki", "Sari",
         "Siti", "Tono", "Utami", "Wahyu", "Wulan", "Yudi", "Yuni")
LAST = ("Pratama", "Saputra", "Wijaya", "Santoso", "Hidayat", "Nugroho", "Kusuma", "Setiawan", "Siregar",
        "Nasution", "Simanjuntak", "Hutapea", "Wibowo", "Purnomo", "Lubis", "Harahap", "Susanto", "Gunawan")
# Each appears in only a few entries: the "rare term" searches look for them.
RARE = ("Tjokroaminoto", "Wiraatmadja", "Sastrowardoyo", "Mangkubumi", "Notonegoro", "Kartasasmita",
        "Djojohadikusumo", "Soerjadjaja", "Prawiranegara", "Tirtoadisuryo", "Hamengkubuwono", "Suryadarma",
        "Purbonegoro", "Wongsonegoro", "Atmodirono", "Cakraningrat", "Djayadiningrat", "Kusumaatmadja",
        "Reksodiputro", "Sosrodiningrat", "Tjondronegoro", "Martodiredjo", "Poerbatjaraka", "Soemitro",
        "Wreksodiningrat", "Hadiwidjojo", "Brotodiningrat", "Danudirdjo", "Gondokusumo", "Joyokusumo")
RARE_EVERY = 400_000  # one rare surname per this many entries (about 25 entries per term at 10M)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5",
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
)
REASONS = ("Documents incomplete", "Amount exceeds policy", "Suspected duplicate", "Customer request")
# (action, weight, result)
ACTIONS = (
    ("LOGIN_SUCCESS", 28, "success"), ("LOGOUT", 18, "success"), ("LOGIN_FAILURE", 5, "failure"),
    ("TRANSACTION_CREATE", 16, "success"), ("TRANSACTION_APPROVE", 11, "success"),
    ("TRANSACTION_REJECT", 2, "success"), ("CUSTOMER_UPDATE", 8, "success"), ("CUSTOMER_CREATE", 3, "success"),
    ("APPROVAL_REQUEST", 2, "success"), ("APPROVAL_APPROVE", 1.5, "success"), ("APPROVAL_REJECT", 0.5, "success"),
    ("STEP_UP", 2, "success"), ("USER_UPDATE", 1.5, "success"), ("INSTITUTION_UPDATE", 0.4, "success"),
    ("SETTINGS_UPDATE", 0.1, "success"), ("PASSWORD_CHANGE", 0.5, "success"),
)
COLUMNS = ("id", "created_at", "actor_id", "actor_email", "impersonator_id", "impersonator_email", "action",
           "resource_type", "resource_id", "resource_repr", "institution_id", "description", "changes", "ip",
           "user_agent", "request_id", "result", "prev_hash", "hash")


def _people(rng: random.Random):
    staff = []
    for n in range(1, STAFF + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        institution = None if n <= 12 else rng.randint(1, INSTITUTIONS)
        staff.append((n, f"{first.lower()}.{last.lower()}{n}@staff.saintara.id", f"{first} {last}", institution,
                      f"10.20.{n // 250}.{n % 250 + 1}"))
    customers = []
    for n in range(CUSTOMERS):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        user_id = STAFF + 1 + n
        customers.append((user_id, f"{first.lower()}.{last.lower()}.{n}@contoh.co.id", f"{first} {last}",
                          rng.randint(1, INSTITUTIONS), f"36.{68 + n % 30}.{n % 251}.{n % 241 + 1}"))
    return staff, customers


class AuditRows:
    """Iterates over chained rows (tuples in COLUMNS order) for ``count`` entries over ``days``."""

    def __init__(self, count: int, *, days: int = 365, seed: int = 7, end: datetime | None = None):
        self.count, self.rng = count, random.Random(seed)
        self.end = end or datetime.now(UTC).replace(microsecond=0)
        self.start = self.end - timedelta(days=days)
        self.step = (self.end - self.start) / max(count, 1)
        self.staff, self.customers = _people(self.rng)
        self.actions = [a for a, _w, _r in ACTIONS]
        self.weights = [w for _a, w, _r in ACTIONS]
        self.result_of = {a: r for a, _w, r in ACTIONS}
        self.rare_at = {self.rng.randrange(count): RARE[i % len(RARE)]
                        for i in range(max(len(RARE), count // RARE_EVERY * len(RARE)))} if count else {}

    def __iter__(self):
        rng, prev = self.rng, GENESIS_HASH
        actions = rng.choices(self.actions, self.weights, k=self.count)
        micro = timedelta(microseconds=1)
        for index in range(self.count):
            entry_id = index + 1
            created = self.start + self.step * index + micro * rng.randrange(0, 999)
            fields = self._entry(actions[index], entry_id)
            rare = self.rare_at.get(index)
            if rare:
                fields["description"] += f" (note from {rare})"
            values = (created, fields["actor_id"], fields["actor_email"], fields.get("impersonator_id"),
                      fields.get("impersonator_email"), fields["action"], fields.get("resource_type"),
                      fields.get("resource_id"), fields.get("resource_repr"), fields.get("institution_id"),
                      fields["description"], fields.get("changes"), fields["ip"], fields["user_agent"],
                      uuid.UUID(int=rng.getrandbits(128)).hex, self.result_of[fields["action"]])
            digest = entry_hash(prev, values)
            yield (entry_id, *values, prev, digest)
            prev = digest

    def _entry(self, action: str, entry_id: int) -> dict:
        rng = self.rng
        customer = rng.choice(self.customers)
        staff = rng.choice(self.staff)
        if action in ("LOGIN_SUCCESS", "LOGOUT", "LOGIN_FAILURE", "STEP_UP", "PASSWORD_CHANGE"):
            person = customer if rng.random() < 0.8 else staff
            description = {"LOGIN_SUCCESS": "Signed in", "LOGOUT": "Signed out", "STEP_UP": "Re-authenticated",
                           "LOGIN_FAILURE": "Sign-in refused: wrong password",
                           "PASSWORD_CHANGE": "Changed their password"}[action]
            changes = {"password_hash": {"before": "********", "after": "********"}} \
                if action == "PASSWORD_CHANGE" else None
            fields = self._actor(person, customer_side=person is customer)
            fields.update(action=action, resource_type="user", resource_id=str(person[0]),
                          resource_repr=f"{person[2]} <{person[1]}>", institution_id=person[3],
                          description=description, changes=changes)
            return fields
        fields = self._actor(staff)
        if action.startswith("TRANSACTION_"):
            reference = f"TRX-{entry_id:09d}"
            amount = rng.choice((50, 100, 250, 500, 1000, 2500, 10000)) * 1000 + rng.randint(0, 99) * 1000
            if action == "TRANSACTION_CREATE":
                fields = self._actor(customer, customer_side=True)
                description = f"Created transaction {reference} of Rp{amount:,} for {customer[2]}"
                changes = {"amount_idr": {"before": None, "after": amount},
                           "status": {"before": None, "after": "pending"}}
            else:
                approved = action == "TRANSACTION_APPROVE"
                reason = None if approved else rng.choice(REASONS)
                description = f"{'Approved' if approved else 'Rejected'} transaction {reference}" + (
                    f": {reason}" if reason else "")
                changes = {"status": {"before": "pending", "after": "approved" if approved else "rejected"},
                           "decision_reason": {"before": None, "after": reason}}
            fields.update(action=action, resource_type="transaction", resource_id=str(entry_id),
                          resource_repr=reference, institution_id=customer[3], description=description,
                          changes=changes)
        elif action.startswith("CUSTOMER_"):
            customer_id = customer[0] - STAFF
            if action == "CUSTOMER_CREATE":
                description = f"Created customer {customer[2]}"
                changes = {"full_name": {"before": None, "after": customer[2]}}
            else:
                old, new = (f"+62 8{rng.randint(11, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
                            for _ in range(2))
                description, changes = f"Updated customer {customer[2]}", {"phone": {"before": old, "after": new}}
            fields.update(action=action, resource_type="customer", resource_id=str(customer_id),
                          resource_repr=f"{customer[2]} <{customer[1]}>", institution_id=customer[3],
                          description=description, changes=changes)
        elif action.startswith("APPROVAL_"):
            approval_id = rng.randint(1, 200_000)
            verb = {"APPROVAL_REQUEST": "Requested", "APPROVAL_APPROVE": "Approved",
                    "APPROVAL_REJECT": "Rejected"}[action]
            fields.update(action=action, resource_type="approval", resource_id=str(approval_id),
                          resource_repr=f"limit_increase #{approval_id}: {customer[2]}", institution_id=customer[3],
                          description=f"{verb} limit increase request for {customer[2]}",
                          changes=None if action == "APPROVAL_REQUEST" else
                          {"status": {"before": "pending", "after": verb.lower()}})
        elif action == "USER_UPDATE":
            target = rng.choice(self.staff)
            fields.update(action=action, resource_type="user", resource_id=str(target[0]),
                          resource_repr=f"{target[2]} <{target[1]}>", institution_id=target[3],
                          description=f"Updated user {target[1]}",
                          changes={"display_name": {"before": target[2], "after": target[2] + " Jr."}})
        elif action == "INSTITUTION_UPDATE":
            institution = rng.randint(1, INSTITUTIONS)
            fields.update(action=action, resource_type="institution", resource_id=str(institution),
                          resource_repr=f"Institution {institution}", institution_id=institution,
                          description=f"Updated institution {institution}",
                          changes={"is_active": {"before": True, "after": rng.random() < 0.5}})
        else:  # SETTINGS_UPDATE
            fields.update(action=action, resource_type="setting", resource_id="audit_retention_days",
                          resource_repr="Keep audit entries (days)", description="Changed setting audit_retention_days",
                          changes={"audit_retention_days": {"before": 365, "after": 400}})
        return fields

    def _actor(self, person, customer_side: bool = False) -> dict:
        fields = {"actor_id": person[0], "actor_email": person[1], "ip": person[4],
                  "user_agent": self.rng.choice(USER_AGENTS)}
        if customer_side and self.rng.random() < 0.005:  # support acting as the customer
            supporter = self.staff[self.rng.randrange(12)]
            fields.update(impersonator_id=supporter[0], impersonator_email=supporter[1], ip=supporter[4])
        return fields


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dict):
        value = canonical_json(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class CopyStream(io.RawIOBase):
    """A file-like object that COPY reads: the rows as tab-separated text, generated on demand."""

    def __init__(self, rows, progress=None, every: int = 500_000):
        self.rows, self.buffer, self.done, self.progress, self.every = iter(rows), b"", 0, progress, every

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while len(self.buffer) < len(target):
            lines = []
            for row in self.rows:
                lines.append("\t".join(_copy_value(v) for v in row))
                self.done += 1
                if self.progress and self.done % self.every == 0:
                    self.progress(self.done)
                if len(lines) == 2000:
                    break
            if not lines:
                break
            self.buffer += ("\n".join(lines) + "\n").encode("utf-8")
        size = min(len(target), len(self.buffer))
        target[:size], self.buffer = self.buffer[:size], self.buffer[size:]
        return size
