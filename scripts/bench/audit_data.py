"""Realistic audit entries for the benchmark, generated fast and chained, written with COPY.

A year of activity of a platform with 20 institutions, 60 staff and 20,000 customers:
sign-ins (some refused), transactions created and decided, customers edited, approvals,
settings, impersonation by support now and then. A handful of rare surnames appear in
free text (notes staff typed) of a few entries each, so a search for a rare term has
something to find.

Entries are stored as the portal writes them (app.audit.personal): the people who appear
have their rows (institutions, customers, accounts) and their keys in ``data_subjects``
(wrapped with ``ENCRYPTION_KEY``), and their e-mail addresses, names and personal changes
are sealed with the vault's own :class:`~app.personal_data.vault.Sealer`. AES-SIV is
deterministic, so each distinct value is sealed once and the sealed text reused.
:func:`check_sealing` compares a sample with what ``app.audit.personal.seal_entry``
writes, so the benchmark cannot drift from the portal unnoticed.
"""

from __future__ import annotations

import base64
import io
import random
import uuid
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from app.audit import personal
from app.audit.chain import entry_hash
from app.audit.models import GENESIS_HASH, canonical_json
from app.audit.services import PendingEntry
from app.personal_data.catalogue import PERSONAL_FIELDS
from app.security import crypto

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


def phone_of(customer_id: int) -> str:
    """The phone number on a customer's record (a personal value the vault seals)."""
    return f"+62 8{11 + customer_id % 89} {1000 + customer_id * 7 % 9000} {1000 + customer_id * 13 % 9000}"


def _account(person) -> tuple[str, int, list[str]]:
    """A portal account as ``app.audit.personal.people`` lists it: kind, id, its personal values."""
    return "user", person[0], [person[1], person[2]]  # PERSONAL_FIELDS["user"]: email, display_name


def _customer(person) -> tuple[str, int, list[str]]:
    """The customer record behind a customer-side account (record id = account id - STAFF)."""
    customer_id = person[0] - STAFF
    return "customer", customer_id, [person[2], person[1], phone_of(customer_id)]  # full_name, email, phone


class AuditRows:
    """Iterates over chained rows (tuples in COLUMNS order) for ``count`` entries over ``days``.

    With ``seal`` (a :class:`CachedSeal`) the personal values are stored sealed, as the portal
    stores them; without it in clear text, as before sealing existed.
    """

    def __init__(self, count: int, *, days: int = 365, seed: int = 7, end: datetime | None = None,
                 seal: CachedSeal | None = None):
        self.count, self.rng, self.seal = count, random.Random(seed), seal
        self.end = end or datetime.now(UTC).replace(microsecond=0)
        self.start = self.end - timedelta(days=days)
        self.step = (self.end - self.start) / max(count, 1)
        self.staff, self.customers = _people(self.rng)
        self.actions = [a for a, _w, _r in ACTIONS]
        self.weights = [w for _a, w, _r in ACTIONS]
        self.result_of = {a: r for a, _w, r in ACTIONS}
        self.rare_at = {self.rng.randrange(count): RARE[i % len(RARE)]
                        for i in range(max(len(RARE), count // RARE_EVERY * len(RARE)))} if count else {}

    def plain_entries(self):
        """``(id, created_at, fields, request id)`` of each entry before sealing; ``fields["personal"]``
        is ``(subject, people)`` as ``app.audit.services.log`` queues it for the sealing."""
        rng = self.rng
        actions = rng.choices(self.actions, self.weights, k=self.count)
        micro = timedelta(microseconds=1)
        for index in range(self.count):
            entry_id = index + 1
            created = self.start + self.step * index + micro * rng.randrange(0, 999)
            fields = self._entry(actions[index], entry_id)
            rare = self.rare_at.get(index)
            if rare:  # free text typed by staff: not a person's value, so never sealed
                fields["description"] += f" (note from {rare})"
            yield entry_id, created, fields, uuid.UUID(int=rng.getrandbits(128)).hex

    def __iter__(self):
        prev = GENESIS_HASH
        for entry_id, created, fields, request_id in self.plain_entries():
            if self.seal is not None:
                seal_fields(self.seal, fields)
            values = (created, fields["actor_id"], fields["actor_email"], fields.get("impersonator_id"),
                      fields.get("impersonator_email"), fields["action"], fields.get("resource_type"),
                      fields.get("resource_id"), fields.get("resource_repr"), fields.get("institution_id"),
                      fields["description"], fields.get("changes"), fields["ip"], fields["user_agent"],
                      request_id, self.result_of[fields["action"]])
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
            return self._people_of(fields, _account(person))
        fields = self._actor(staff)
        subject, mentioned = None, ()
        if action.startswith("TRANSACTION_"):
            reference = f"TRX-{entry_id:09d}"
            amount = rng.choice((50, 100, 250, 500, 1000, 2500, 10000)) * 1000 + rng.randint(0, 99) * 1000
            if action == "TRANSACTION_CREATE":
                fields = self._actor(customer, customer_side=True)
                description = f"Created transaction {reference} of Rp{amount:,} for {customer[2]}"
                changes = {"amount_idr": {"before": None, "after": amount},
                           "status": {"before": None, "after": "pending"}}
                mentioned = (_customer(customer),)  # the description names the customer (log(people=...))
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
            subject = _customer(customer)
        elif action.startswith("APPROVAL_"):
            approval_id = rng.randint(1, 200_000)
            verb = {"APPROVAL_REQUEST": "Requested", "APPROVAL_APPROVE": "Approved",
                    "APPROVAL_REJECT": "Rejected"}[action]
            fields.update(action=action, resource_type="approval", resource_id=str(approval_id),
                          resource_repr=f"limit_increase #{approval_id}: {customer[2]}", institution_id=customer[3],
                          description=f"{verb} limit increase request for {customer[2]}",
                          changes=None if action == "APPROVAL_REQUEST" else
                          {"status": {"before": "pending", "after": verb.lower()}})
            subject = _customer(customer)  # a request about a customer is sealed under the customer's key
        elif action == "USER_UPDATE":
            target = rng.choice(self.staff)
            fields.update(action=action, resource_type="user", resource_id=str(target[0]),
                          resource_repr=f"{target[2]} <{target[1]}>", institution_id=target[3],
                          description=f"Updated user {target[1]}",
                          changes={"display_name": {"before": target[2], "after": target[2] + " Jr."}})
            subject = _account(target)
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
        return self._people_of(fields, subject, mentioned)

    def _actor(self, person, customer_side: bool = False) -> dict:
        fields = {"actor_id": person[0], "actor_email": person[1], "ip": person[4],
                  "user_agent": self.rng.choice(USER_AGENTS)}
        if customer_side and self.rng.random() < 0.005:  # support acting as the customer
            supporter = self.staff[self.rng.randrange(12)]
            fields.update(impersonator_id=supporter[0], impersonator_email=supporter[1], ip=supporter[4])
        return fields

    @staticmethod
    def _people_of(fields: dict, subject, mentioned=()) -> dict:
        """``fields`` with ``personal``: the subject and everyone the entry names, as
        ``app.audit.personal.people`` lists them (actor, impersonator, subject, others)."""
        found = [("user", fields["actor_id"], [fields["actor_email"]])]
        if fields.get("impersonator_id") is not None:
            found.append(("user", fields["impersonator_id"], [fields["impersonator_email"]]))
        found += ([subject] if subject else []) + list(mentioned)
        fields["personal"] = (subject[:2] if subject else None, found)
        return fields


class CachedSeal:
    """``Sealer.seal`` (app.personal_data.vault) with each distinct value sealed once: AES-SIV
    is deterministic, so the same value of the same person always seals to the same text."""

    def __init__(self, sealer, limit: int = 300_000) -> None:
        self.sealer, self.limit, self.cache, self.sealed = sealer, limit, {}, 0

    def __call__(self, kind: str, ref_id: int, value, *, max_length: int | None = None):
        key = (kind, ref_id, value, max_length)
        found = self.cache.get(key)
        if found is None:
            found = self.sealer.seal(kind, ref_id, value, max_length=max_length)
            self.sealed += 1
            if len(self.cache) >= self.limit:  # one-off values (phone changes) must not pile up
                self.cache.clear()
            self.cache[key] = found
        return found


def seal_fields(seal, fields: dict) -> None:
    """Seal ``fields`` in place by the rules of ``app.audit.personal.seal_entry``, through ``seal``."""
    subject, found = fields.pop("personal")
    if fields.get("actor_id") is not None:
        fields["actor_email"] = seal("user", fields["actor_id"], fields["actor_email"], max_length=254)
    if fields.get("impersonator_id") is not None:
        fields["impersonator_email"] = seal("user", fields["impersonator_id"], fields["impersonator_email"],
                                            max_length=254)
    if subject is not None:
        kind, ref_id = subject
        fields["resource_repr"] = seal(kind, ref_id, fields["resource_repr"], max_length=300)
        if fields.get("changes"):
            fields["changes"] = personal.seal_changes(seal, kind, ref_id, fields["changes"], PERSONAL_FIELDS[kind])
    else:
        repr_text = personal.seal_mentions(seal, fields.get("resource_repr"), found)
        fields["resource_repr"] = repr_text if repr_text is None or len(repr_text) <= 300 else seal(
            found[0][0], found[0][1], fields["resource_repr"], max_length=300)
    fields["description"] = personal.seal_mentions(seal, fields["description"], found)


def check_sealing(seal: CachedSeal, sample: int = 3000) -> int:
    """Seal ``sample`` entries both here and with the portal's own ``seal_entry`` (through the
    session's keys) and stop if any field differs; returns how many values were sealed."""
    fields_sealed = 0
    for _id, created, fields, request_id in AuditRows(sample).plain_entries():
        ours = dict(fields)
        seal_fields(seal, ours)
        entry = PendingEntry(created_at=created, request_id=request_id,
                             **{k: v for k, v in fields.items() if k != "personal"})
        entry.personal = fields["personal"]
        personal.seal_entry(entry)
        for name in ("actor_email", "impersonator_email", "resource_repr", "description", "changes"):
            if getattr(entry, name) != ours.get(name):
                raise SystemExit(f"sealing differs from the portal's in {name}: {ours.get(name)!r} "
                                 f"against {getattr(entry, name)!r}")
            fields_sealed += getattr(entry, name) != fields.get(name)
    if not fields_sealed:
        raise SystemExit("nothing was sealed in the sample")
    return fields_sealed


def people_rows(seed: int = 7) -> dict[str, list[tuple]]:
    """The rows behind the entries' people, for COPY: institutions, customers, their accounts and
    the staff's, and a data subject (a random AES-SIV key wrapped with ENCRYPTION_KEY) for each
    account and customer. Needs an app context (the wrapping key)."""
    staff, customers = _people(random.Random(seed))
    now = datetime.now(UTC).isoformat(sep=" ")
    institutions = [(n, f"INST{n:02d}", f"Institution {n}") for n in range(1, INSTITUTIONS + 1)]
    records = [(p[0] - STAFF, p[3], p[2], p[1], phone_of(p[0] - STAFF)) for p in customers]
    accounts = [(p[0], p[1], p[2], ("superadmin" if p[0] <= 2 else "admin") if p[3] is None else "institution_admin",
                 p[3], None) for p in staff]
    accounts += [(p[0], p[1], p[2], "customer", p[3], p[0] - STAFF) for p in customers]

    def wrapped() -> str:
        return crypto.encrypt(base64.b64encode(AESSIV.generate_key(512)).decode("ascii"))

    subjects = [("user", a[0], wrapped(), now) for a in accounts]
    subjects += [("customer", r[0], wrapped(), now) for r in records]
    return {"institutions (id, code, name)": institutions,
            "customers (id, institution_id, full_name, email, phone)": records,
            "users (id, email, display_name, role, institution_id, customer_id)": accounts,
            "data_subjects (kind, ref_id, wrapped_key, created_at)": subjects}


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
