"""Searches behind the transaction list and the approval queue."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.platform.models import Approval, Customer, Transaction
from app.security.access import institution_scope
from app.security.actor import Actor


def _date_range(query: Select, column, bounds) -> Select:
    if bounds:
        start, end = bounds
        if start is not None:
            query = query.where(column >= start)
        if end is not None:
            query = query.where(column < end)
    return query


def transactions(actor: Actor, values: dict) -> Select:
    """Transactions in the actor's scope matching the filters (q, status, institution, created, amount)."""
    query = select(Transaction).options(joinedload(Transaction.customer), joinedload(Transaction.institution))
    scope = institution_scope(actor)
    if scope is not None:
        query = query.where(Transaction.institution_id == scope)
    if values.get("q"):
        # Exact reference or customer e-mail: both are indexed, whatever the size of the table.
        text = values["q"].strip()
        query = query.where((Transaction.reference == text.upper())
                            | Transaction.customer_id.in_(select(Customer.id).where(Customer.email == text.lower())))
    if values.get("status"):
        query = query.where(Transaction.status == values["status"])
    if values.get("institution") is not None:
        query = query.where(Transaction.institution_id == values["institution"])
    query = _date_range(query, Transaction.created_at, values.get("created"))
    if values.get("amount"):
        low, high = values["amount"]
        if low is not None:
            query = query.where(Transaction.amount_idr >= low)
        if high is not None:
            query = query.where(Transaction.amount_idr <= high)
    return query


def approvals_by_id(ids: list[int]) -> list[Approval]:
    """The approval requests with these ids, oldest first (visibility is the caller's check)."""
    return list(db.session.scalars(select(Approval).where(Approval.id.in_(ids)).order_by(Approval.requested_at)))


def approvals(actor: Actor, values: dict) -> Select:
    """Approval requests in the actor's scope matching the filters (status, kind, institution, requested)."""
    query = select(Approval).options(joinedload(Approval.institution), joinedload(Approval.requested_by))
    scope = institution_scope(actor)
    if scope is not None:
        query = query.where(Approval.institution_id == scope)
    if values.get("status"):
        query = query.where(Approval.status == values["status"])
    if values.get("kind"):
        query = query.where(Approval.kind == values["kind"])
    if values.get("institution") is not None:
        query = query.where(Approval.institution_id == values["institution"])
    return _date_range(query, Approval.requested_at, values.get("requested"))
