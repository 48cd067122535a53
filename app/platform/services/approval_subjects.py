"""What an approval request is about: its subject (by name, with its page) and the values it
would change, current value beside requested value.

A request records the proposed change in ``payload["changes"]`` as
``{field: {"old": value, "new": value}}`` (``old`` as it was when the request was made).
The subject's other fields are listed unchanged, so the reader sees the whole record.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.platform.models import Approval, Customer, Institution, Transaction
from app.security.access import institution_scope
from app.security.actor import Actor

SUBJECT_MODELS = {"customer": Customer, "institution": Institution, "transaction": Transaction}
SUBJECT_ENDPOINTS = {
    "customer": ("platform.customer_detail", "customer_id"),
    "institution": ("platform.institution_detail", "institution_id"),
    "transaction": ("platform.transaction_detail", "transaction_id"),
}
SUBJECT_LABELS = {"customer": _l("Customer"), "institution": _l("Institution"), "transaction": _l("Transaction")}

# Fields a request may change or that identify the subject; (label, kind) where kind says how to show it.
FIELDS = {
    "full_name": (_l("Name"), "text"),
    "name": (_l("Name"), "text"),
    "code": (_l("Code"), "text"),
    "email": (_l("E-mail"), "text"),
    "phone": (_l("Phone"), "text"),
    "is_active": (_l("Active"), "bool"),
    "reference": (_l("Reference"), "text"),
    "amount_idr": (_l("Amount"), "money"),
    "daily_limit_idr": (_l("Daily transfer limit"), "money"),
    "refund_amount_idr": (_l("Refund amount"), "money"),
    "status": (_l("Status"), "text"),
}
SHOWN_FIELDS = {
    "customer": ("full_name", "email", "phone", "is_active"),
    "institution": ("name", "code", "is_active"),
    "transaction": ("reference", "amount_idr", "status"),
}


@dataclass(frozen=True)
class ComparedField:
    """One row of the comparison: ``changed`` rows are the ones the request would alter."""

    name: str
    label: object
    kind: str
    current: object
    requested: object
    changed: bool


@dataclass(frozen=True)
class ApprovalSubject:
    """The subject of a request: its type label, display name, page (None when it is gone or
    outside the reader's scope) and the compared fields."""

    type_label: object
    name: str
    endpoint: tuple[str, dict] | None
    fields: list[ComparedField]


def _display_name(row) -> str:
    if isinstance(row, Customer):
        return row.full_name
    if isinstance(row, Institution):
        return f"{row.name} ({row.code})"
    return row.reference


def describe(actor: Actor, approval: Approval) -> ApprovalSubject:
    """The subject of ``approval`` as ``actor`` may see it, with current and requested values side by side."""
    model = SUBJECT_MODELS.get(approval.subject_type)
    row = None
    if model is not None and approval.subject_id.isdigit() and len(approval.subject_id) < 19:
        row = db.session.get(model, int(approval.subject_id))
        scope = institution_scope(actor)
        owner = row.id if isinstance(row, Institution) else getattr(row, "institution_id", None)
        if row is not None and scope is not None and owner != scope:
            row = None
    changes = (approval.payload or {}).get("changes") or {}
    if not isinstance(changes, dict):
        changes = {}

    fields = []
    names = list(SHOWN_FIELDS.get(approval.subject_type, ()))
    names += [name for name in changes if name not in names]
    for name in names:
        label, kind = FIELDS.get(name, (name.replace("_", " ").capitalize(), "text"))
        change = changes.get(name)
        if isinstance(change, dict) and "new" in change:
            current = getattr(row, name, change.get("old")) if row is not None else change.get("old")
            fields.append(ComparedField(name, label, kind, current, change["new"], current != change["new"]))
        elif row is not None and hasattr(row, name):
            value = getattr(row, name)
            fields.append(ComparedField(name, label, kind, value, value, False))

    endpoint = None
    if row is not None:
        view, arg = SUBJECT_ENDPOINTS[approval.subject_type]
        endpoint = (view, {arg: row.id})
    name = _display_name(row) if row is not None else approval.subject_repr
    return ApprovalSubject(SUBJECT_LABELS.get(approval.subject_type, approval.subject_type), name, endpoint, fields)
