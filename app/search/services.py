"""Find what a person typed into the jump box, within what that person may open.

One small indexed query per kind and tier (exact, prefix, contains), each with a LIMIT:
no query scans a large table. Scope follows the pages the results link to: staff see
customers, transactions and institutions of their institution scope, user administrators
the accounts they may see there, audit readers the entries of their scope; a customer
finds only their own account.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import joinedload

from app.audit.models import AuditLog
from app.database import LIKE_ESCAPE, contains_pattern, escape_like
from app.extensions import db
from app.formatting import money_text, when_text
from app.personal_data import vault
from app.platform.labels import status_label
from app.platform.models import Customer, Institution, Transaction
from app.search.query import MAX_BIGINT_ID, MAX_INT_ID, InvalidQuery, JumpQuery, parse_query
from app.security.access import ROLE_PERMISSIONS, Permission, institution_scope
from app.security.actor import Actor
from app.users.administration import visible_users
from app.users.models import Role, User

__all__ = ["InvalidQuery", "JumpResult", "Kind", "jump", "parse_query"]

PER_KIND = 5
MIN_PARTIAL = 3  # names match in part from three characters (what a trigram index can serve)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")  # as app.observability.request_id accepts them
_REFERENCE = re.compile(r"^[A-Za-z0-9._/-]{1,40}$")


class Kind(enum.StrEnum):
    """What a result is; the order of the members is the order of the results."""

    CUSTOMER = "customer"
    TRANSACTION = "transaction"
    INSTITUTION = "institution"
    USER = "user"
    AUDIT_ENTRY = "audit_entry"

    @property
    def label(self):
        return {Kind.CUSTOMER: _l("Customer"), Kind.TRANSACTION: _l("Transaction"),
                Kind.INSTITUTION: _l("Institution"), Kind.USER: _l("User"),
                Kind.AUDIT_ENTRY: _l("Audit entry")}[self]


@dataclass(frozen=True)
class JumpResult:
    """One thing to jump to: what it is, how it is called, a second line, and where it lives."""

    kind: Kind
    label: str
    detail: str
    endpoint: str
    values: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return url_for(self.endpoint, **self.values)

    def as_json(self) -> dict:
        return {"kind": self.kind.value, "kind_label": str(self.kind.label), "label": self.label,
                "detail": self.detail, "url": self.url}


def jump(actor: Actor, query: JumpQuery, *, per_kind: int = PER_KIND) -> list[JumpResult]:
    """The results for ``query`` that ``actor`` may open: by kind, best match first within a kind.

    Reads only; raises nothing for a query that matches nothing (an empty list).
    """
    if not query.text or actor.is_system or actor.role is None:
        return []
    role = Role(actor.role)
    granted = ROLE_PERMISSIONS[role]
    if role is Role.CUSTOMER:
        return _own_account(actor, query)
    results: list[JumpResult] = []
    if Permission.VIEW_PORTAL in granted:
        results += _customers(actor, query, per_kind)
        results += _transactions(actor, query, per_kind)
        results += _institutions(actor, query, per_kind)
    if Permission.MANAGE_USERS in granted:
        results += _users(actor, query, per_kind)
    if Permission.VIEW_AUDIT_LOG in granted:
        results += _audit_entries(actor, query, per_kind)
    return results


# --- matching -------------------------------------------------------------------------


def starts_with(column, text: str) -> ColumnElement[bool]:
    return column.like(escape_like(text) + "%", escape=LIKE_ESCAPE)


def contains(column, text: str) -> ColumnElement[bool]:
    return column.like(contains_pattern(text), escape=LIKE_ESCAPE)


def _first_matches(base: Select, id_column, scope: list, tiers: Iterable[ColumnElement[bool]], limit: int,
                   sort_key) -> list:
    """Rows of ``base`` in ``scope`` matching the tiers, best tier first, at most ``limit``.

    One query per tier, in order, until ``limit`` rows are found; a tier's few rows are
    sorted by ``sort_key``. The matching ids are a MATERIALIZED CTE on PostgreSQL, planned
    for all its rows: with the LIMIT in view the planner would bet on a sequential scan
    stopping early, which a rare or absent name never does (a whole table read).
    """
    found: dict[int, object] = {}
    for condition in tiers:
        if len(found) >= limit:
            break
        matches = select(id_column.label("id")).where(*scope, condition)
        if found:
            matches = matches.where(id_column.not_in(list(found)))
        fenced = matches.cte("matches").prefix_with("MATERIALIZED", dialect="postgresql")
        statement = base.where(id_column.in_(select(fenced.c.id).limit(limit - len(found))))
        for row in sorted(db.session.scalars(statement).unique().all(), key=sort_key):
            found[row.id] = row
    return list(found.values())


def _int_id(query: JumpQuery, maximum: int = MAX_INT_ID) -> int | None:
    number = query.number
    return number if number is not None and 0 < number <= maximum else None


def _email_tiers(column, query: JumpQuery) -> list[ColumnElement[bool]]:
    """E-mails are stored lower-cased: exactly, then as a prefix (a pattern index serves both)."""
    if not query.is_one_word:
        return []
    return [column == query.lower, starts_with(column, query.lower)]


def _name_tiers(column, query: JumpQuery) -> list[ColumnElement[bool]]:
    """Case-blind, from MIN_PARTIAL characters: the name starting with the text, then containing it."""
    if len(query.text) < MIN_PARTIAL:
        return []
    lowered = func.lower(column)
    return [starts_with(lowered, query.lower), contains(lowered, query.lower)]


def _scope(column, actor: Actor) -> list[ColumnElement[bool]]:
    """The condition that keeps rows in the actor's institution scope (none for every institution)."""
    scope = institution_scope(actor)
    return [] if scope is None else [column == scope]


# --- kinds ----------------------------------------------------------------------------


def _customers(actor: Actor, query: JumpQuery, limit: int) -> list[JumpResult]:
    base = select(Customer).options(joinedload(Customer.institution))
    tiers = [Customer.id == n for n in [_int_id(query)] if n is not None]
    tiers += _email_tiers(Customer.email, query) + _name_tiers(Customer.full_name, query)
    rows = _first_matches(base, Customer.id, _scope(Customer.institution_id, actor), tiers, limit,
                          lambda c: (c.full_name.lower(), c.id))
    return [JumpResult(Kind.CUSTOMER, c.full_name, f"{c.email} · {c.institution.code}", "platform.customer_detail",
                       {"customer_id": c.id}) for c in rows]


def _transactions(actor: Actor, query: JumpQuery, limit: int) -> list[JumpResult]:
    base = select(Transaction).options(joinedload(Transaction.customer))
    tiers = [Transaction.id == n for n in [_int_id(query)] if n is not None]
    if _REFERENCE.match(query.text):
        tiers.append(Transaction.reference == query.text.upper())  # the unique index
    rows = _first_matches(base, Transaction.id, _scope(Transaction.institution_id, actor), tiers, limit,
                          lambda t: t.id)
    return [JumpResult(Kind.TRANSACTION, t.reference,
                       f"{t.customer.full_name} · {money_text(t.amount_idr)} · {status_label(t.status)}",
                       "platform.transaction_detail", {"transaction_id": t.id}) for t in rows]


def _institutions(actor: Actor, query: JumpQuery, limit: int) -> list[JumpResult]:
    tiers = [Institution.id == n for n in [_int_id(query)] if n is not None]
    if query.is_one_word and len(query.text) <= 20:
        tiers.append(Institution.code == query.text.upper())
    tiers += _name_tiers(Institution.name, query)
    rows = _first_matches(select(Institution), Institution.id, _scope(Institution.id, actor), tiers, limit,
                          lambda i: (i.name.lower(), i.id))
    return [JumpResult(Kind.INSTITUTION, i.name, i.code, "platform.institution_detail", {"institution_id": i.id})
            for i in rows]


def _visible_users(actor: Actor) -> list[ColumnElement[bool]]:
    """The condition of the accounts the actor may open in user administration (app.users.administration's rule)."""
    condition = visible_users(actor).whereclause
    return [] if condition is None else [condition]


def _users(actor: Actor, query: JumpQuery, limit: int) -> list[JumpResult]:
    tiers = [User.id == n for n in [_int_id(query)] if n is not None]
    tiers += _email_tiers(User.email, query) + _name_tiers(User.display_name, query)
    rows = _first_matches(select(User), User.id, _visible_users(actor), tiers, limit,
                          lambda u: (u.display_name.lower(), u.id))
    return [JumpResult(Kind.USER, u.display_name, _user_detail(u), "users.detail", {"user_id": u.id}) for u in rows]


def _user_detail(user: User) -> str:
    parts = [user.email, str(user.role_enum.label)]
    if user.institution is not None:
        parts.append(user.institution.code)
    return " · ".join(parts)


def _audit_entries(actor: Actor, query: JumpQuery, limit: int) -> list[JumpResult]:
    tiers = [AuditLog.id == n for n in [_int_id(query, MAX_BIGINT_ID)] if n is not None]
    if _REQUEST_ID.match(query.text):
        tiers.append(AuditLog.request_id == query.text)  # every entry of one request (indexed)
    rows = _first_matches(select(AuditLog), AuditLog.id, _scope(AuditLog.institution_id, actor), tiers, limit,
                          lambda e: e.id)
    return [JumpResult(Kind.AUDIT_ENTRY, f"#{e.id} {e.action}",
                       " · ".join(p for p in (vault.reveal(e.actor_email), vault.reveal_text(e.resource_repr) or "",
                                              when_text(e.created_at, "medium")) if p),
                       "audit.detail", {"entry_id": e.id}) for e in rows]


def _own_account(actor: Actor, query: JumpQuery) -> list[JumpResult]:
    """A customer's only result: their own account, when the query names it."""
    user = db.session.get(User, actor.user_id)
    if user is None:
        return []
    text = query.lower
    named = (query.number == user.id or user.email.startswith(text)
             or (len(text) >= MIN_PARTIAL and text in user.display_name.lower()))
    if not named:
        return []
    return [JumpResult(Kind.USER, user.display_name, f"{user.email} · {user.role_enum.label}", "auth.account")]
