"""Who an access export is about, and how it names everybody else.

The export gives the person their own data and nothing of anybody else's (GDPR Art. 15(4):
the right of access must not adversely affect the rights of others). Their own sealed values
are revealed; staff members appear by their role ("staff member (admin)"), never by name or
address; a sealed value of any other person becomes "[another person]".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select

from app.extensions import db
from app.personal_data import vault
from app.personal_data.models import DataSubject
from app.platform.models import Customer
from app.users.models import User

OTHER_PERSON = "[another person]"
SYSTEM = "system"
_TOKEN = re.compile(re.escape(vault.PREFIX) + r"(\d{1,18})~[A-Za-z0-9_-]*")


class NoSuchPerson(LookupError):
    """There is no customer or account with that id."""


@dataclass(frozen=True)
class Person:
    """The subject of an export: a customer (with the portal accounts linked to it) or one account."""

    kind: str  # "customer" or "user"
    ref_id: int
    customer_id: int | None
    account_ids: tuple[int, ...]
    institution_id: int | None
    consent_subject: tuple[str, int]  # whose consent history is theirs (app.consent.services.Subject)


def find_person(kind: str, ref_id: int) -> Person:
    """The customer or account ``ref_id`` with its accounts; raises :class:`NoSuchPerson`."""
    if kind == "customer":
        customer = db.session.execute(select(Customer.id, Customer.institution_id).where(
            Customer.id == ref_id)).first()
        if customer is None:
            raise NoSuchPerson(kind, ref_id)
        accounts = tuple(db.session.scalars(select(User.id).where(User.customer_id == ref_id).order_by(User.id)))
        return Person("customer", ref_id, ref_id, accounts, customer.institution_id, ("customer", ref_id))
    if kind == "user":
        user = db.session.execute(select(User.id, User.institution_id, User.customer_id).where(
            User.id == ref_id)).first()
        if user is None:
            raise NoSuchPerson(kind, ref_id)
        consent = ("customer", user.customer_id) if user.customer_id is not None else ("user", ref_id)
        return Person("user", ref_id, None, (ref_id,), user.institution_id, consent)
    raise NoSuchPerson(kind, ref_id)


def label_of(person: Person) -> str:
    """How staff pages name the person: "name <address>" of the customer record or the account."""
    if person.kind == "customer":
        row = db.session.execute(select(Customer.full_name, Customer.email).where(Customer.id == person.ref_id)).one()
    else:
        row = db.session.execute(select(User.display_name, User.email).where(User.id == person.ref_id)).one()
    return f"{row[0]} <{row[1]}>"


def own_subject_ids(person: Person) -> frozenset[int]:
    """The data-subject numbers of the person's customer record and accounts (read only: a person
    nothing was ever sealed for has none)."""
    conditions = [and_(DataSubject.kind == "user", DataSubject.ref_id.in_(person.account_ids))]
    if person.customer_id is not None:
        conditions.append(and_(DataSubject.kind == "customer", DataSubject.ref_id == person.customer_id))
    return frozenset(db.session.scalars(select(DataSubject.id).where(or_(*conditions))))


class Parties:
    """Names the people a record mentions by account id: the person's own accounts by their
    address, staff by role. Roles are read once per account, a batch at a time."""

    def __init__(self, person: Person) -> None:
        self.own = set(person.account_ids)
        # The session's connection itself: the audit entries' reader learns roles on it from its thread.
        self._connection = db.session.connection()
        users = User.__table__.c
        self._emails = dict(self._connection.execute(select(users.id, users.email).where(
            users.id.in_(self.own))).all())
        self._roles: dict[int, str | None] = {}

    def learn(self, user_ids: Iterable[int | None]) -> None:
        """Read the roles of the accounts in ``user_ids`` not seen yet (one query)."""
        unknown = {i for i in user_ids if i is not None and i not in self._roles and i not in self.own}
        if unknown:
            users = User.__table__.c
            found = dict(self._connection.execute(select(users.id, users.role).where(users.id.in_(unknown))).all())
            self._roles.update({i: found.get(i) for i in unknown})

    def is_own(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.own

    def name(self, user_id: int | None) -> str | None:
        """The person's own address for their accounts, "staff member (role)" for anyone else,
        None for nobody."""
        if user_id is None:
            return None
        if user_id in self.own:
            return self._emails.get(user_id)
        if user_id not in self._roles:
            self.learn([user_id])
        role = self._roles.get(user_id)
        return f"staff member ({role})" if role else "staff member"


class Revealer:
    """Sealed values revealed for the person and withheld for everybody else.

    One :class:`~app.personal_data.vault.Opener` serves the whole export: it unwraps each
    subject's key once and remembers revealed values. Whole texts are remembered too: the
    same sealed address, representation or description recurs in thousands of entries.
    """

    def __init__(self, own_subjects: frozenset[int], opener: vault.Opener | None = None) -> None:
        self.own = own_subjects
        self.opener = opener or vault.Opener()
        self.opener.load(own_subjects)  # now: revealing then needs no database
        self._texts: dict[str, str] = {}

    def _token(self, match: re.Match) -> str:
        return self.opener.reveal(match.group(0)) if int(match.group(1)) in self.own else OTHER_PERSON

    def text(self, value):
        """``value`` with the person's sealed values revealed and everyone else's withheld."""
        if not isinstance(value, str) or vault.PREFIX not in value:
            return value
        found = self._texts.get(value)
        if found is None:
            if len(self._texts) >= vault.MEMO_SIZE:
                self._texts.clear()
            found = self._texts[value] = _TOKEN.sub(self._token, value)
        return found

    def texts(self, values: Sequence) -> list:
        """:meth:`text` of each of ``values`` (a column of a batch: each distinct value once)."""
        memo = self._texts
        missing = set(values).difference(memo)
        if len(memo) + len(missing) > vault.MEMO_SIZE:
            memo.clear()
            missing = set(values)
        for value in missing:
            memo[value] = value if not isinstance(value, str) or vault.PREFIX not in value else \
                _TOKEN.sub(self._token, value)
        return list(map(memo.__getitem__, values))

    def json(self, value):
        """:meth:`text` applied to every string inside a JSON value."""
        if value is None:
            return None
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.json(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.json(item) for item in value]
        return value
