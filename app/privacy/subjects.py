"""Data subjects: the customers and portal users a request can be about.

A request stores only the subject's type and id; the name and registered address shown
with it are read here, from the subject's own row, when a page needs them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select

from app.extensions import db
from app.platform.models import Customer
from app.privacy.models import SubjectType
from app.users.models import User

MAX_MATCHES = 20


@dataclass(frozen=True)
class Subject:
    """What the privacy pages show of a data subject."""

    type: SubjectType
    id: int
    name: str
    email: str
    detail: str  # the institution of a customer, the role of a user

    @property
    def key(self) -> str:
        return f"{self.type.value}:{self.id}"


def _customer(row: Customer) -> Subject:
    return Subject(SubjectType.CUSTOMER, row.id, row.full_name, row.email,
                   f"{row.institution.name} ({row.institution.code})")


def _user(row: User) -> Subject:
    return Subject(SubjectType.USER, row.id, row.display_name, row.email, str(row.role_enum.label))


def get(subject_type: SubjectType | str, subject_id: int) -> Subject | None:
    """The subject, or None when no such customer or user exists."""
    if SubjectType(subject_type) is SubjectType.CUSTOMER:
        customer = db.session.get(Customer, subject_id)
        return _customer(customer) if customer is not None else None
    user = db.session.get(User, subject_id)
    return _user(user) if user is not None else None


def parse_key(raw: str | None) -> tuple[SubjectType, int] | None:
    """``"customer:12"`` → (SubjectType.CUSTOMER, 12); None for anything else."""
    kind, _sep, number = (raw or "").partition(":")
    if kind not in {t.value for t in SubjectType} or not (number.isascii() and number.isdigit()) or len(number) > 9:
        return None
    return SubjectType(kind), int(number)


def find(subject_type: SubjectType | str, query: str) -> list[Subject]:
    """Subjects of ``subject_type`` whose e-mail address is ``query`` (any case), or whose id it
    is ("#12" or "12"); at most MAX_MATCHES. Addresses are stored in lower case; a customer's may
    repeat across institutions."""
    text = query.strip().lower()
    number = text.removeprefix("#")
    by_id = number.isascii() and number.isdigit() and len(number) <= 9
    if SubjectType(subject_type) is SubjectType.CUSTOMER:
        condition = or_(Customer.email == text, Customer.id == int(number)) if by_id else Customer.email == text
        rows = db.session.scalars(select(Customer).where(condition).order_by(Customer.id).limit(MAX_MATCHES))
        return [_customer(row) for row in rows]
    condition = or_(User.email == text, User.id == int(number)) if by_id else User.email == text
    rows = db.session.scalars(select(User).where(condition).order_by(User.id).limit(MAX_MATCHES))
    return [_user(row) for row in rows]


def describe(pairs: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Subject]:
    """The subjects of many requests at once (two queries), keyed by (type, id)."""
    wanted: dict[str, set[int]] = {t.value: set() for t in SubjectType}
    for subject_type, subject_id in pairs:
        wanted[subject_type].add(subject_id)
    found: dict[tuple[str, int], Subject] = {}
    if wanted[SubjectType.CUSTOMER.value]:
        for row in db.session.scalars(select(Customer).where(Customer.id.in_(wanted[SubjectType.CUSTOMER.value]))):
            found[(SubjectType.CUSTOMER.value, row.id)] = _customer(row)
    if wanted[SubjectType.USER.value]:
        for row in db.session.scalars(select(User).where(User.id.in_(wanted[SubjectType.USER.value]))):
            found[(SubjectType.USER.value, row.id)] = _user(row)
    return found
