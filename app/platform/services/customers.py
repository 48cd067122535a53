"""Customers: search, the detail page's figures, and edits."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select

from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import LIKE_ESCAPE, contains_pattern
from app.extensions import db
from app.platform.models import Customer, Transaction
from app.platform.services import PlatformError, check_version
from app.security.access import institution_scope
from app.security.actor import Actor
from app.users.services import InvalidEmail, checked_email

FIELDS = ("full_name", "email", "phone", "is_active")
PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{4,30}$")


class InvalidCustomer(PlatformError):
    def __init__(self, field: str, message):
        super().__init__(message)
        self.field = field


def search(actor: Actor, values: dict) -> Select:
    """Customers in the actor's scope matching the list filters (q, institution, active, created)."""
    query = select(Customer)
    scope = institution_scope(actor)
    if scope is not None:
        query = query.where(Customer.institution_id == scope)
    if values.get("q"):
        pattern = contains_pattern(values["q"].lower())
        query = query.where(or_(func.lower(Customer.full_name).like(pattern, escape=LIKE_ESCAPE),
                                Customer.email.like(pattern, escape=LIKE_ESCAPE),
                                Customer.phone.like(pattern, escape=LIKE_ESCAPE)))
    if values.get("institution") is not None:
        query = query.where(Customer.institution_id == values["institution"])
    if values.get("active"):
        query = query.where(Customer.is_active.is_(values["active"] == "yes"))
    if values.get("created"):
        start, end = values["created"]
        if start is not None:
            query = query.where(Customer.created_at >= start)
        if end is not None:
            query = query.where(Customer.created_at < end)
    return query


def recent_transactions(customer: Customer, limit: int = 10) -> list[Transaction]:
    return list(db.session.scalars(
        select(Transaction).where(Transaction.customer_id == customer.id)
        .order_by(Transaction.created_at.desc(), Transaction.id.desc()).limit(limit)))


def check_phone(phone: str) -> str | None:
    """A trimmed phone number, None when empty; raises InvalidCustomer when it is not one."""
    phone = " ".join((phone or "").split())
    if not phone:
        return None
    if len(phone) > 32 or not PHONE.match(phone):
        raise InvalidCustomer("phone", _l("Enter a phone number of digits, spaces and + ( ) - . only."))
    return phone


def update(actor: Actor, customer: Customer, *, full_name: str, email: str, phone: str, is_active: bool,
           expected_version: int | None) -> bool:
    """Edit a customer (audited CUSTOMER_UPDATE with before/after); False when nothing changed.

    Raises InvalidCustomer, or StaleEdit when someone changed it since the form was loaded.
    """
    check_version(customer, expected_version, "customer")
    full_name = " ".join((full_name or "").split())
    if not 1 <= len(full_name) <= 200:
        raise InvalidCustomer("full_name", _l("Enter a name of at most 200 characters."))
    try:
        email = checked_email(email or "")
    except InvalidEmail:
        raise InvalidCustomer("email", _l("Enter a valid e-mail address.")) from None
    phone = check_phone(phone)
    taken = db.session.scalar(select(Customer.id).where(
        Customer.institution_id == customer.institution_id, Customer.email == email, Customer.id != customer.id))
    if taken is not None:
        raise InvalidCustomer("email", _l("Another customer of this institution already uses this e-mail address."))
    before = audit.snapshot(customer, FIELDS)
    customer.full_name, customer.email, customer.phone, customer.is_active = full_name, email, phone, bool(is_active)
    changes = audit.diff(before, audit.snapshot(customer, FIELDS))
    if not changes:
        return False
    db.session.flush()
    audit.log(actor, AuditAction.CUSTOMER_UPDATE, resource=customer, changes=changes,
              description=f"Edited customer {customer.email}")
    return True
