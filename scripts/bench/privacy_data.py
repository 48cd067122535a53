"""The people and the sealed, chained audit log of the privacy benchmark, written with COPY.

A platform of 20 institutions, 60 staff and 20,000 customers, each customer with a portal
account and a key of their own (``data_subjects``, wrapped with ``ENCRYPTION_KEY`` as the
vault wraps them). Three kinds of people matter to the benchmark:

- **the export's subject** (customer #1, account #61): 10,000 payments, 50 approval requests,
  and 50,000 audit entries about them among the first 300,000 entries of the log: 30,000
  about the account (sign-ins, sign-outs, step-ups, second-factor failures, passkeys, staff
  editing the account), 10,000 payments created by the account (3 % while support acted as
  them), 9,900 about the customer record (staff edits of the phone number, consent given and
  withdrawn) and 100 about the approval requests;
- **erasure candidates**: for each log size measured, a few customers with about 300 entries
  each, spread over the whole log up to that size (no open payments or requests);
- **everybody else**: the rest of the log (sign-ins, payments created and decided, customer
  edits, approval requests, staff administration, refused sign-ins with unknown addresses).

Every entry is sealed as the portal seals it at commit (app.audit.personal.seal_entry): the
actor's and impersonator's address, the representation and the personal fields of the person
an entry is about, and their values wherever the description mentions them, through the
vault's own :class:`~app.personal_data.vault.Sealer` and the audit log's ``seal_changes`` and
``seal_mentions``. Sealed texts are remembered (AES-SIV is deterministic, so a value sealed
twice for one person is the same text); :meth:`AuditLogWriter.check_sealing` compares a sample
with ``seal_entry`` itself. Entries are chained with ``app.audit.chain.entry_hash`` and
continue from the head the database has when each segment is written.
"""

from __future__ import annotations

import base64
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from psycopg2.extras import Json, execute_values

from app.audit import personal
from app.audit.chain import HASHED_FIELDS, entry_hash
from app.audit.models import GENESIS_HASH
from app.audit.services import PendingEntry
from app.auth.services import SIGN_IN_METHODS
from app.extensions import db
from app.personal_data.catalogue import PERSONAL_FIELDS
from app.personal_data.vault import Sealer
from app.security import crypto
from scripts.bench.audit_data import FIRST, LAST, REASONS, USER_AGENTS, CopyStream

INSTITUTIONS, STAFF, CUSTOMERS = 20, 60, 20_000
SUBJECT = 1  # the export's customer; their account is STAFF + SUBJECT
SUBJECT_PAYMENTS, SUBJECT_APPROVALS = 10_000, 50
SUBJECT_SPAN = 300_000  # the subject's entries lie among the first SUBJECT_SPAN entries
OTHER_PAYMENTS = 100_000
CANDIDATE_ENTRIES = 300
FILLER_APPROVAL_BASE = 1_000_000  # approval ids in other people's entries: never a real request
PASSWORD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hiZW5jaA$bm90IGEgcmVhbCBoYXNoIGF0IGFsbCwgYmVuY2g"  # noqa: S105
COPY_COLUMNS = (*HASHED_FIELDS, "prev_hash", "hash")
SEARCH_INDEX = "ix_audit_logs_search"  # trigram GIN: the slowest index to build at millions of entries
# The export subject's 50,000 entries, by kind.
SUBJECT_MIX = (
    ("signin", 12_000), ("signout", 11_000), ("step_up", 4_000), ("second_factor", 1_500), ("passkey", 500),
    ("account_edit", 1_000), ("payment", SUBJECT_PAYMENTS), ("customer_edit", 8_000), ("consent", 1_900),
    ("approval", 100),
)
CANDIDATE_MIX = (("signin", 110), ("signout", 90), ("step_up", 20), ("customer_edit", 70), ("consent", 10))
# Everybody else's entries: (kind, weight).
FILLER_MIX = (
    ("signin", 28), ("signout", 18), ("signin_refused", 4), ("unknown_address", 1), ("step_up", 2),
    ("payment", 16), ("decision", 13), ("customer_edit", 8), ("approval", 3), ("staff_edit", 1.5),
    ("institution", 0.4), ("setting", 0.1),
)


def account_of(customer_id: int) -> int:
    return STAFF + customer_id


def _name(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST), rng.choice(LAST)


class World:
    """Who exists: staff, customers and their accounts, with their personal values."""

    def __init__(self, seed: int = 5) -> None:
        rng = random.Random(seed)
        self.staff = {}
        for n in range(1, STAFF + 1):
            first, last = _name(rng)
            role = "superadmin" if n <= 4 else "admin" if n <= 12 else "institution_admin"
            self.staff[n] = {"email": f"{first.lower()}.{last.lower()}{n}@staff.saintara.id",
                             "display_name": f"{first} {last}", "role": role,
                             "institution_id": None if n <= 12 else rng.randint(1, INSTITUTIONS),
                             "ip": f"10.20.{n // 250}.{n % 250 + 1}"}
        self.customers = {}
        for n in range(1, CUSTOMERS + 1):
            first, last = _name(rng)
            phone = f"+62 8{rng.randint(11, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
            self.customers[n] = {"full_name": f"{first} {last}",
                                 "email": f"{first.lower()}.{last.lower()}.{n}@contoh.co.id", "phone": phone,
                                 "institution_id": rng.randint(1, INSTITUTIONS),
                                 "login": f"{first.lower()}{n}@mail.contoh.id", "display_name": first,
                                 "ip": f"36.{68 + n % 30}.{n % 251}.{n % 241 + 1}"}

    def account(self, customer_id: int) -> dict:
        c = self.customers[customer_id]
        return {"email": c["login"], "display_name": c["display_name"], "role": "customer",
                "institution_id": c["institution_id"], "ip": c["ip"]}


class Plan:
    """Which entry (by position in the log) is about whom: the export's subject among the first
    SUBJECT_SPAN entries, each size's erasure candidates spread over the log up to that size."""

    def __init__(self, sizes: list[int], candidates_per_size: int, seed: int = 9) -> None:
        rng = random.Random(seed)
        self.sizes, self.total = sorted(sizes), max(sizes)
        self.special: dict[int, tuple[int, str]] = {}
        span = min(SUBJECT_SPAN, self.total)
        kinds = [kind for kind, n in SUBJECT_MIX for _ in range(n)]
        positions = sorted(rng.sample(range(span), len(kinds)))
        rng.shuffle(kinds)
        self.special.update((p, (SUBJECT, k)) for p, k in zip(positions, kinds, strict=True))
        self.candidates: dict[int, list[int]] = {}
        next_customer = 2
        for size in self.sizes:
            self.candidates[size] = list(range(next_customer, next_customer + candidates_per_size))
            next_customer += candidates_per_size
            kinds = [kind for kind, n in CANDIDATE_MIX for _ in range(n)]
            for customer in self.candidates[size]:
                free = set()
                while len(free) < len(kinds):
                    p = rng.randrange(size)
                    if p not in self.special:
                        free.add(p)
                rng.shuffle(kinds)
                self.special.update((p, (customer, k)) for p, k in zip(sorted(free), kinds, strict=True))
        self.reserved = next_customer  # customers below this one appear only where planned
        end = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        self.start, self.step = end - timedelta(days=365), timedelta(days=365) / self.total

    def time_at(self, position: int) -> datetime:
        return self.start + self.step * position

    def subject_payment_times(self) -> list[datetime]:
        """When each of the subject's payments was created (its TRANSACTION_CREATE entry), in order."""
        return [self.time_at(p) for p, (who, kind) in sorted(self.special.items())
                if who == SUBJECT and kind == "payment"]


def create_people(world: World, plan: Plan) -> dict[tuple[str, int], int]:
    """Institutions, staff, customers with their accounts, payments, approval requests and every
    person's key (wrapped as the vault wraps keys). Returns the subject id of each person."""
    raw = db.session.connection().connection.dbapi_connection
    now = datetime.now(UTC)
    rng = random.Random(3)
    with raw.cursor() as cur:
        execute_values(cur, "INSERT INTO institutions (id, code, name) VALUES %s",
                       [(n, f"INST{n:02d}", f"Institution {n}") for n in range(1, INSTITUTIONS + 1)])
        users = [(n, s["email"], s["display_name"], s["role"], s["institution_id"], None, PASSWORD_HASH, now)
                 for n, s in world.staff.items()]
        users += [(account_of(n), c["login"], c["display_name"], "customer", c["institution_id"], n, PASSWORD_HASH, now)
                  for n, c in world.customers.items()]
        execute_values(cur, "INSERT INTO customers (id, institution_id, full_name, email, phone, created_at) VALUES %s",
                       [(n, c["institution_id"], c["full_name"], c["email"], c["phone"], now - timedelta(days=400))
                        for n, c in world.customers.items()], page_size=5000)
        execute_values(cur, "INSERT INTO users (id, email, display_name, role, institution_id, customer_id, "
                            "password_hash, created_at) VALUES %s", users, page_size=5000)
        subject = world.customers[SUBJECT]
        staff_ids = list(range(5, STAFF + 1))
        payments = []
        for n, created in enumerate(plan.subject_payment_times(), 1):
            status = "approved" if n % 10 else "rejected"
            payments.append((n, f"TRX-{n:08d}", SUBJECT, subject["institution_id"],
                             rng.choice((50, 100, 250, 500, 1000, 2500)) * 1000 + rng.randint(0, 99) * 1000,
                             f"Payment {n} to PT Sumber Makmur", status, created, rng.choice(staff_ids),
                             created + timedelta(hours=rng.randint(1, 48)),
                             None if status == "approved" else rng.choice(REASONS)))
        for size in plan.sizes:
            for customer in plan.candidates[size]:
                institution = world.customers[customer]["institution_id"]
                for k in range(5):
                    n = len(payments) + 1
                    payments.append((n, f"TRX-{n:08d}", customer, institution, 150_000 * (k + 1), f"Payment {n}",
                                     "approved", plan.start, 5, plan.start + timedelta(hours=2), None))
        execute_values(cur, "INSERT INTO transactions (id, reference, customer_id, institution_id, amount_idr, "
                            "description, status, created_at, decided_by_id, decided_at, decision_reason) VALUES %s",
                       payments, page_size=5000)
        first = len(payments) + 1
        # Everybody else's payments (decided: nothing about them is open).
        cur.execute("INSERT INTO transactions (id, reference, customer_id, institution_id, amount_idr, description,"
                    " status, created_at, decided_by_id, decided_at)"
                    " SELECT i, 'TRX-' || lpad(i::text, 8, '0'), c.id, c.institution_id, 1000 * (1 + i %% 5000),"
                    " 'Payment ' || i, 'approved', %(start)s, 5, %(start)s"
                    " FROM generate_series(%(first)s, %(last)s) AS i"
                    " JOIN customers c ON c.id = %(reserved)s + i %% (%(customers)s + 1 - %(reserved)s)",
                    {"start": plan.start, "first": first, "last": first + OTHER_PAYMENTS - 1,
                     "reserved": plan.reserved, "customers": CUSTOMERS})
        approvals = []
        for n in range(1, SUBJECT_APPROVALS + 1):
            requested = plan.time_at(n * SUBJECT_SPAN // (SUBJECT_APPROVALS + 2))
            approvals.append((n, "limit_increase", "customer", str(SUBJECT),
                              f"{subject['full_name']} <{subject['email']}>", subject["institution_id"],
                              f"Raise the daily limit of {subject['full_name']}",
                              Json({"full_name": subject["full_name"], "daily_limit_idr": n * 1_000_000}),
                              "approved", rng.choice(staff_ids), requested, rng.choice(staff_ids),
                              requested + timedelta(hours=3)))
        for size in plan.sizes:
            for customer in plan.candidates[size]:
                c = world.customers[customer]
                n = len(approvals) + 1
                approvals.append((n, "limit_increase", "customer", str(customer), f"{c['full_name']} <{c['email']}>",
                                  c["institution_id"], f"Raise the daily limit of {c['full_name']}",
                                  Json({"full_name": c["full_name"], "daily_limit_idr": 5_000_000}), "approved",
                                  5, plan.start, 6, plan.start + timedelta(hours=3)))
        execute_values(cur, "INSERT INTO approvals (id, kind, subject_type, subject_id, subject_repr, institution_id,"
                            " summary, payload, status, requested_by_id, requested_at, decided_by_id, decided_at)"
                            " VALUES %s", approvals)
        for table in ("institutions", "users", "customers", "transactions", "approvals"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608
        people = [("user", n) for n in world.staff] + [("customer", n) for n in world.customers] + [
            ("user", account_of(n)) for n in world.customers]
        keys = [(kind, ref, crypto.encrypt(base64.b64encode(AESSIV.generate_key(512)).decode("ascii")), now)
                for kind, ref in people]
        rows = execute_values(cur, "INSERT INTO data_subjects (kind, ref_id, wrapped_key, created_at) VALUES %s "
                                   "RETURNING kind, ref_id, id", keys, page_size=5000, fetch=True)
    db.session.commit()
    return {(kind, ref): subject_id for kind, ref, subject_id in rows}


class AuditLogWriter:
    """Generates the planned entries, sealed and chained, and COPYs them segment by segment."""

    def __init__(self, world: World, plan: Plan, seed: int = 7) -> None:
        self.world, self.plan, self.rng = world, plan, random.Random(seed)
        self.written = 0  # entries generated so far (positions 0 .. written-1)
        self.memo: dict[tuple, str] = {}
        self.sealer: Sealer | None = None
        self.subject_payments = 0
        self.subject_approvals = 0
        staff = list(world.staff)
        self.support = staff[:12]
        self.deciders = staff[4:]
        self.indexes: list[tuple[str, str]] = []  # (name, definition) of the secondary indexes
        self.kinds = [k for k, _w in FILLER_MIX]
        self.weights = [w for _k, w in FILLER_MIX]

    # --- sealing ---------------------------------------------------------------------------
    def seal(self, kind: str, ref_id: int, value, max_length: int | None = None):
        key = (kind, ref_id, value, max_length)
        sealed = self.memo.get(key)
        if sealed is None:
            if len(self.memo) > 400_000:
                self.memo.clear()
            sealed = self.memo[key] = self.sealer.seal(kind, ref_id, value, max_length=max_length)
        return sealed

    def seal_entry(self, f: dict, subject, found) -> None:
        """What app.audit.personal.seal_entry does to a queued entry, with remembered sealed texts."""
        seal = self.seal
        if f["actor_id"] is not None:
            f["actor_email"] = seal("user", f["actor_id"], f["actor_email"], 254)
        if f["impersonator_id"] is not None:
            f["impersonator_email"] = seal("user", f["impersonator_id"], f["impersonator_email"], 254)
        if subject is not None:
            kind, ref_id = subject
            f["resource_repr"] = seal(kind, ref_id, f["resource_repr"], 300)
            if f["changes"]:
                f["changes"] = personal.seal_changes(seal, kind, ref_id, f["changes"], PERSONAL_FIELDS[kind])
        else:
            repr_text = personal.seal_mentions(seal, f["resource_repr"], found)
            f["resource_repr"] = repr_text if repr_text is None or len(repr_text) <= 300 else seal(
                found[0][0], found[0][1], f["resource_repr"], 300)
        f["description"] = personal.seal_mentions(seal, f["description"], found)

    def check_sealing(self, sample: int = 2000) -> int:
        """Seal ``sample`` planned entries both ways (ours, and app.audit.personal.seal_entry on the
        session) and stop the benchmark if one value differs. Returns how many were compared."""
        rng_state, written, memo = self.rng.getstate(), self.written, dict(self.memo)
        compared = 0
        # The first entries, and the first ones of every planned kind (the subject's, candidates').
        positions = list(range(sample)) + sorted(self.plan.special)[:sample]
        for position in sorted(set(positions)):
            f, subject, found = self.entry(position)
            entry = PendingEntry(**f)
            entry.personal = (subject, found)
            personal.seal_entry(entry)
            self.seal_entry(f, subject, found)
            for name in HASHED_FIELDS:
                if getattr(entry, name) != f[name]:
                    raise SystemExit(f"sealing differs from seal_entry at {position} ({name}): "
                                     f"{getattr(entry, name)!r} != {f[name]!r}")
            compared += 1
        self.rng.setstate(rng_state)
        self.written, self.memo = written, memo
        self.subject_payments = self.subject_approvals = 0
        return compared

    # --- entries -----------------------------------------------------------------------------
    def _base(self, position: int, actor_id, actor: dict | None, action: str, *, result: str = "success") -> dict:
        rng = self.rng
        return {"created_at": self.plan.time_at(position) + timedelta(microseconds=rng.randrange(999)),
                "actor_id": actor_id, "actor_email": actor["email"] if actor else None, "impersonator_id": None,
                "impersonator_email": None, "action": action, "resource_type": None, "resource_id": None,
                "resource_repr": None, "institution_id": None, "description": "", "changes": None,
                "ip": actor["ip"] if actor else None, "user_agent": rng.choice(USER_AGENTS),
                "request_id": uuid.UUID(int=rng.getrandbits(128)).hex, "result": result}

    def entry(self, position: int) -> tuple[dict, tuple | None, list]:
        """The fields of the entry at ``position`` (unsealed), the person it is about, and the
        people it names with their values (what app.audit.services.log records for sealing)."""
        planned = self.plan.special.get(position)
        if planned is not None:
            return self._about(position, *planned)
        kind = self.rng.choices(self.kinds, self.weights)[0]
        customer = self.rng.randrange(self.plan.reserved, CUSTOMERS + 1)
        return self._about(position, customer, kind, filler=True)

    def _staff(self, ids=None) -> tuple[int, dict]:
        n = self.rng.choice(ids or self.deciders)
        return n, self.world.staff[n]

    def _about(self, position: int, customer_id: int, kind: str, filler: bool = False):
        rng, world = self.rng, self.world
        c = world.customers[customer_id]
        account_id, account = account_of(customer_id), world.account(customer_id)
        account_values = [account["email"], account["display_name"]]
        customer_values = [c["full_name"], c["email"], c["phone"]]
        own = ("user", account_id, [account["email"]])
        if kind in ("signin", "signout", "step_up", "second_factor", "passkey", "signin_refused"):
            action, description, result = {
                "signin": ("LOGIN_SUCCESS", SIGN_IN_METHODS[rng.choice(("password", "password", "totp", "passkey"))],
                           "success"),
                "signout": ("LOGOUT", "Signed out", "success"),
                "step_up": ("STEP_UP", "Re-authenticated with password", "success"),
                "second_factor": ("TWO_FACTOR_FAILURE", "Wrong authenticator code", "failure"),
                "passkey": ("PASSKEY_REGISTER", "Passkey 'Phone' registered", "success"),
                "signin_refused": ("LOGIN_FAILURE", "Sign-in refused: wrong password", "failure"),
            }[kind]
            if filler and rng.random() < 0.2:  # staff sign in too
                staff_id, staff = self._staff(list(world.staff))
                f = self._base(position, staff_id, staff, action, result=result)
                f.update(resource_type="user", resource_id=str(staff_id), institution_id=staff["institution_id"],
                         resource_repr=f"{staff['display_name']} <{staff['email']}>", description=description)
                return f, ("user", staff_id), [("user", staff_id, [staff["email"]]),
                                               ("user", staff_id, [staff["email"], staff["display_name"]])]
            f = self._base(position, account_id, account, action, result=result)
            f.update(resource_type="user", resource_id=str(account_id), institution_id=c["institution_id"],
                     resource_repr=f"{account['display_name']} <{account['email']}>", description=description)
            return f, ("user", account_id), [own, ("user", account_id, account_values)]
        if kind == "unknown_address":
            typed = f"{rng.choice(FIRST).lower()}{rng.randint(1, 999)}@gmail.com"
            f = self._base(position, None, {"email": typed, "ip": f"180.{rng.randint(1, 250)}.3.4"}, "LOGIN_FAILURE",
                           result="failure")
            f.update(description="Sign-in refused: no such account")
            return f, None, []
        if kind == "account_edit":
            staff_id, staff = self._staff()
            f = self._base(position, staff_id, staff, "USER_UPDATE")
            new = account["display_name"] + rng.choice((" S.", " P.", ""))
            f.update(resource_type="user", resource_id=str(account_id), institution_id=c["institution_id"],
                     resource_repr=f"{account['display_name']} <{account['email']}>",
                     description=f"Updated {account['email']}",
                     changes={"display_name": {"before": account["display_name"], "after": new}})
            return f, ("user", account_id), [("user", staff_id, [staff["email"]]), ("user", account_id, account_values)]
        if kind == "payment":
            if customer_id == SUBJECT:
                self.subject_payments += 1
                tx_id = self.subject_payments
            else:
                tx_id = rng.randint(SUBJECT_PAYMENTS + 1, SUBJECT_PAYMENTS + OTHER_PAYMENTS)
            reference = f"TRX-{tx_id:08d}"
            amount = rng.choice((50, 100, 250, 500, 1000, 2500)) * 1000
            f = self._base(position, account_id, account, "TRANSACTION_CREATE")
            found = [own]
            if rng.random() < 0.03:  # support acting as the customer
                staff_id, staff = self._staff(self.support)
                f.update(impersonator_id=staff_id, impersonator_email=staff["email"], ip=staff["ip"])
                found.append(("user", staff_id, [staff["email"]]))
            f.update(resource_type="transaction", resource_id=str(tx_id), resource_repr=reference,
                     institution_id=c["institution_id"], description=f"Created transaction {reference} of Rp{amount:,}")
            return f, None, found
        if kind == "decision":
            staff_id, staff = self._staff()
            tx_id = rng.randint(SUBJECT_PAYMENTS + 1, SUBJECT_PAYMENTS + OTHER_PAYMENTS)
            approve = rng.random() < 0.85
            f = self._base(position, staff_id, staff, "TRANSACTION_APPROVE" if approve else "TRANSACTION_REJECT")
            reason = None if approve else rng.choice(REASONS)
            f.update(resource_type="transaction", resource_id=str(tx_id), resource_repr=f"TRX-{tx_id:08d}",
                     institution_id=c["institution_id"], description=f"{'Approved' if approve else 'Rejected'} "
                     f"TRX-{tx_id:08d}", changes={"status": {"before": "pending", "after": "approved" if approve
                                                             else "rejected"}, "decision_reason": {"before": None,
                                                                                                   "after": reason}})
            return f, None, [("user", staff_id, [staff["email"]])]
        if kind == "customer_edit":
            staff_id, staff = self._staff()
            f = self._base(position, staff_id, staff, "CUSTOMER_UPDATE")
            old, new = (f"+62 8{rng.randint(11, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
                        for _ in range(2))
            found = [("user", staff_id, [staff["email"]])]
            if rng.random() < 0.01:
                support_id, support = self._staff(self.support)
                f.update(impersonator_id=support_id, impersonator_email=support["email"])
                found.append(("user", support_id, [support["email"]]))
            f.update(resource_type="customer", resource_id=str(customer_id), institution_id=c["institution_id"],
                     resource_repr=f"{c['full_name']} <{c['email']}>", description=f"Edited customer {c['email']}",
                     changes={"phone": {"before": old, "after": new}})
            return f, ("customer", customer_id), found + [("customer", customer_id, customer_values)]
        if kind == "consent":
            granted = rng.random() < 0.6
            f = self._base(position, account_id, account, "CONSENT_GRANT" if granted else "CONSENT_WITHDRAW")
            purpose = rng.choice(("notifications", "analytics"))
            f.update(resource_type="customer", resource_id=str(customer_id), institution_id=c["institution_id"],
                     resource_repr=f"{c['full_name']} <{c['email']}>",
                     description=f"{'Gave' if granted else 'Withdrew'} consent to {purpose} under notice version 1 "
                                 "(account)", changes={f"consent.{purpose}": {"before": not granted, "after": granted}})
            return f, ("customer", customer_id), [own, ("customer", customer_id, customer_values)]
        if kind == "approval":
            staff_id, staff = self._staff()
            if customer_id == SUBJECT:
                approval_id = self.subject_approvals // 2 % SUBJECT_APPROVALS + 1  # requested, then approved
                action = "APPROVAL_REQUEST" if self.subject_approvals % 2 == 0 else "APPROVAL_APPROVE"
                self.subject_approvals += 1
            else:
                approval_id = FILLER_APPROVAL_BASE + rng.randrange(200_000)
                action = rng.choice(("APPROVAL_REQUEST", "APPROVAL_REQUEST", "APPROVAL_APPROVE", "APPROVAL_REJECT"))
            f = self._base(position, staff_id, staff, action)
            verb = {"APPROVAL_REQUEST": "Requested", "APPROVAL_APPROVE": "Approved", "APPROVAL_REJECT": "Rejected"}
            f.update(resource_type="approval", resource_id=str(approval_id), institution_id=c["institution_id"],
                     resource_repr=f"limit_increase #{approval_id}: {c['full_name']} <{c['email']}>",
                     description=f"{verb[action]} limit_increase request",
                     changes=None if action == "APPROVAL_REQUEST" else
                     {"status": {"before": "pending", "after": verb[action].lower()}})
            # An approval has no personal fields of its own: the entry names the customer with no values.
            return f, ("customer", customer_id), [("user", staff_id, [staff["email"]]), ("customer", customer_id, [])]
        if kind == "staff_edit":
            staff_id, staff = self._staff(self.support)
            target_id, target = self._staff(list(world.staff))
            f = self._base(position, staff_id, staff, "USER_UPDATE")
            f.update(resource_type="user", resource_id=str(target_id), institution_id=target["institution_id"],
                     resource_repr=f"{target['display_name']} <{target['email']}>",
                     description=f"Updated {target['email']}",
                     changes={"display_name": {"before": target["display_name"],
                                               "after": target["display_name"] + " (support)"}})
            return f, ("user", target_id), [("user", staff_id, [staff["email"]]),
                                            ("user", target_id, [target["email"], target["display_name"]])]
        staff_id, staff = self._staff(list(world.staff)[:4])
        f = self._base(position, staff_id, staff, "INSTITUTION_UPDATE" if kind == "institution" else "SETTINGS_UPDATE")
        if kind == "institution":
            institution = rng.randint(1, INSTITUTIONS)
            f.update(resource_type="institution", resource_id=str(institution),
                     resource_repr=f"Institution {institution}", institution_id=institution,
                     description=f"Updated institution {institution}",
                     changes={"is_active": {"before": True, "after": True}})
        else:
            f.update(resource_type="setting", resource_id="audit_retention_days",
                     resource_repr="Keep audit entries (days)", description="Changed setting audit_retention_days",
                     changes={"audit_retention_days": {"before": 365, "after": 400}})
        return f, None, [("user", staff_id, [staff["email"]])]

    def rows(self, stop: int, prev_hash: str) -> Iterator[tuple]:
        """Sealed, chained rows (COPY_COLUMNS order) from the next position up to ``stop``."""
        for position in range(self.written, stop):
            f, subject, found = self.entry(position)
            self.seal_entry(f, subject, found)
            values = [f[name] for name in HASHED_FIELDS]
            digest = entry_hash(prev_hash, values)
            yield (*values, prev_hash, digest)
            prev_hash = digest
            self.written = position + 1

    def open(self) -> None:
        """Seal through a connection of its own: the session's is busy with COPY meanwhile (the keys
        were committed by :func:`create_people`, so both see them)."""
        self._connection = db.engine.connect()
        self.sealer = Sealer(self._connection)

    def close(self) -> None:
        self._connection.close()
        self.sealer = None

    def write(self, stop: int, log, *, search_index: bool = True) -> float:
        """COPY the entries up to position ``stop`` after the current head; secondary indexes are
        dropped first and built again afterwards (the trigram search index only with
        ``search_index``). Returns the seconds it took."""
        started = time.perf_counter()
        raw = db.session.connection().connection.dbapi_connection
        with raw.cursor() as cur:
            cur.execute("SELECT hash FROM audit_logs ORDER BY id DESC LIMIT 1")
            head = cur.fetchone()
            cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_logs' "
                        "AND indexname <> 'pk_audit_logs'")
            indexes = self.indexes = sorted(set(self.indexes) | set(cur.fetchall()))
            for name, _definition in indexes:
                cur.execute(f'DROP INDEX "{name}"')
        first = self.written
        stream = CopyStream(self.rows(stop, head[0] if head else GENESIS_HASH),
                            progress=lambda n: log(f"  {first + n:,} entries generated"), every=500_000)
        with raw.cursor() as cur:
            cur.copy_expert(f"COPY audit_logs ({', '.join(COPY_COLUMNS)}) FROM STDIN", stream, size=1 << 20)
            log(f"copied entries {first:,} to {stop:,} in {time.perf_counter() - started:.0f} s; "
                f"building {len(indexes) - (not search_index)} indexes")
            cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for name, definition in indexes:
                if name != SEARCH_INDEX or search_index:
                    cur.execute(definition)
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE) audit_logs")
            connection.exec_driver_sql("ANALYZE")
        return time.perf_counter() - started
