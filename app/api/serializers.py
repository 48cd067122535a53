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


def privacy_request(row) -> dict:
    """A data-subject request, pseudonymous: the subject by type and id, no free text."""
    return {"id": row.id, "reference": row.reference, "subject_type": row.subject_type, "subject_id": row.subject_id,
            "kind": row.kind, "channel": row.channel, "jurisdiction": row.jurisdiction, "status": row.status,
            "received_at": _time(row.received_at), "due_at": _time(row.due_at),
            "original_due_at": _time(row.original_due_at), "extended_at": _time(row.extended_at),
            "overdue": row.is_overdue(), "verification_method": row.verification_method,
            "verified_at": _time(row.verified_at), "decided_at": _time(row.decided_at), "outcome": row.outcome,
            "refusal_reason": row.refusal_reason, "version": row.version}


def privacy_request_event(row, subject_label: str) -> dict:
    """A step of a request's timeline: who took it as a kind (staff with their account id, the data
    subject, the system), never a name, an address or the note."""
    if row.actor_label == subject_label:
        by = "data_subject"
    else:
        by = "staff" if row.actor_id is not None or "@" in row.actor_label else "system"
    return {"id": row.id, "kind": row.kind, "at": _time(row.at), "by": by, "actor_id": row.actor_id}


def consent_choice(choice) -> dict:
    """A subject's current choice for one purpose (app.consent.services.Choice)."""
    decided = choice.decided_by
    return {"purpose": choice.purpose.key, "granted": choice.granted, "lapsed": choice.lapsed,
            "notice_version": choice.notice.version if choice.notice is not None else None,
            "decided_by_event_id": decided.id if decided is not None else None,
            "decided_notice_version": decided.notice_version if decided is not None else None,
            "decided_at": _time(decided.recorded_at) if decided is not None else None}


def consent_event(row, counting: set[int]) -> dict:
    """One consent event (``counting``: the ids of the events the current choices rest on)."""
    return {"id": row.id, "purpose": row.purpose, "action": "grant" if row.granted else "withdraw",
            "granted": row.granted, "notice_version": row.notice_version, "source": row.source,
            "evidence": row.evidence, "recorded_by_id": row.actor_id, "recorded_at": _time(row.recorded_at),
            "counts_now": row.id in counting}
