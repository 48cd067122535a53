"""JSON shapes of the API's objects (the OpenAPI schemas in app.api.openapi match these)."""

from __future__ import annotations

from datetime import datetime


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def institution(row) -> dict:
    return {"id": row.id, "code": row.code, "name": row.name, "is_active": row.is_active,
            "created_at": _time(row.created_at), "version": row.version}


def transaction(row) -> dict:
    return {"id": row.id, "reference": row.reference, "institution_id": row.institution_id,
            "customer_id": row.customer_id, "amount_idr": row.amount_idr, "description": row.description,
            "status": row.status, "created_at": _time(row.created_at), "decided_at": _time(row.decided_at),
            "decided_by_id": row.decided_by_id, "decision_reason": row.decision_reason, "version": row.version}


def approval(row) -> dict:
    return {"id": row.id, "kind": row.kind, "institution_id": row.institution_id, "subject_type": row.subject_type,
            "subject_id": row.subject_id, "subject": row.subject_repr, "summary": row.summary,
            "status": row.status, "requested_by_id": row.requested_by_id, "requested_at": _time(row.requested_at),
            "decided_at": _time(row.decided_at), "decided_by_id": row.decided_by_id, "reason": row.reason,
            "version": row.version}


def user(row, two_factor_enabled: bool) -> dict:
    return {"id": row.id, "email": row.email, "display_name": row.display_name, "role": row.role,
            "institution_id": row.institution_id, "is_active": row.is_active, "two_factor_enabled": two_factor_enabled,
            "created_at": _time(row.created_at), "last_sign_in_at": _time(row.last_sign_in_at)}


def token(row) -> dict:
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "scope": row.scope,
            "created_at": _time(row.created_at), "expires_at": _time(row.expires_at),
            "last_used_at": _time(row.last_used_at)}
