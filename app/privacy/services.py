"""Data-subject requests: register, extend, decide (complete or refuse), list.

A request moves received → verified → completed | refused. It is decided only once the
requester's identity is verified (app.privacy.verification); the one decision open
before that is a refusal because the identity could not be verified. Every change
writes a timeline event and its audit entry in the same transaction; services never
commit. Audit entries name the subject by type and id only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import utcnow
from app.extensions import db
from app.privacy import deadlines, fulfilment, subjects
from app.privacy.errors import AlreadyDecided, InvalidRequest, NotAllowed, NotVerified, PrivacyError, RequestChanged
from app.privacy.models import (
    OPEN_STATUSES,
    Channel,
    EventKind,
    Jurisdiction,
    Outcome,
    PrivacyRequest,
    PrivacyRequestEvent,
    RefusalReason,
    RequestKind,
    RequestStatus,
    SubjectType,
)
from app.security.access import ROLE_PERMISSIONS, Permission
from app.security.actor import Actor
from app.security.roles import Role
from app.settings import services as settings

__all__ = ["AlreadyDecided", "InvalidRequest", "NotAllowed", "NotVerified", "PrivacyError", "RequestChanged"]

MAX_TEXT = 2000
MIN_REASON = 3
OLDEST_RECEIPT = timedelta(days=366)
CLOCK_SKEW = timedelta(minutes=5)


def ensure_may_manage(actor: Actor) -> None:
    """Raise NotAllowed unless ``actor`` is a system process or holds MANAGE_PRIVACY."""
    if actor.is_system:
        return
    if actor.role is None or Permission.MANAGE_PRIVACY not in ROLE_PERMISSIONS[Role(actor.role)]:
        raise NotAllowed(_l("Only privacy officers and superadmins handle data-subject requests."))


def record_event(req: PrivacyRequest, kind: EventKind, actor: Actor, note: str | None = None,
                 label: str | None = None) -> PrivacyRequestEvent:
    """Add a step to the request's timeline (``label`` names the actor when not a staff member)."""
    event = PrivacyRequestEvent(request_id=req.id, kind=kind.value, at=utcnow(), actor_id=actor.user_id,
                                actor_label=(label or actor.email)[:254], note=note or None)
    db.session.add(event)
    return event


def _text(value: str | None, field: str, *, required: bool = False) -> str:
    text = (value or "").strip()
    if len(text) > MAX_TEXT:
        raise InvalidRequest(_l("Use at most %(n)d characters.", n=MAX_TEXT), field)
    if required and len(text.replace(" ", "")) < MIN_REASON:
        raise InvalidRequest(_l("Write what was done or why, in a few words."), field)
    return text


def _choice(enum, value, field: str):
    try:
        return enum(value)
    except ValueError:
        raise InvalidRequest(_l("Choose one of the offered values."), field) from None


def register_request(actor: Actor, *, subject_type: str, subject_id: int, kind: str, channel: str,
                     jurisdiction: str, received_at: datetime, details: str = "") -> PrivacyRequest:
    """Record a request received from a data subject, with its deadline (audited
    PRIVACY_REQUEST_REGISTER). Raises NotAllowed, or InvalidRequest naming the field."""
    ensure_may_manage(actor)
    subject_type = _choice(SubjectType, subject_type, "subject")
    kind, channel = _choice(RequestKind, kind, "kind"), _choice(Channel, channel, "channel")
    jurisdiction = _choice(Jurisdiction, jurisdiction, "jurisdiction")
    if subjects.get(subject_type, subject_id) is None:
        raise InvalidRequest(_l("This data subject does not exist (any more)."), "subject")
    now = utcnow()
    if received_at > now + CLOCK_SKEW:
        raise InvalidRequest(_l("The request cannot have been received in the future."), "received_at")
    if received_at < now - OLDEST_RECEIPT:
        raise InvalidRequest(_l("Register requests received within the last year."), "received_at")
    due = deadlines.due_at(jurisdiction, kind, received_at)
    req = PrivacyRequest(subject_type=subject_type.value, subject_id=subject_id, kind=kind.value,
                         channel=channel.value, jurisdiction=jurisdiction.value, status=RequestStatus.RECEIVED.value,
                         details=_text(details, "details"), received_at=received_at, due_at=due, original_due_at=due,
                         registered_by_id=actor.user_id, created_at=now)
    db.session.add(req)
    db.session.flush()
    record_event(req, EventKind.REGISTERED, actor)
    audit.log(actor, AuditAction.PRIVACY_REQUEST_REGISTER, resource=req,
              description=f"{req.reference} registered: {kind.value} request of {subject_type.value} "
                          f"#{subject_id} under {jurisdiction.value}",
              changes={"kind": kind.value, "channel": channel.value, "jurisdiction": jurisdiction.value,
                       "received_at": received_at, "due_at": due})
    return req


def lock(req: PrivacyRequest, expected_version: int | None = None) -> PrivacyRequest:
    """Re-read ``req`` under a row lock (PostgreSQL); RequestChanged when the form the actor
    saw (``expected_version``) is older than the row."""
    db.session.refresh(req, with_for_update=True)
    if expected_version is not None and expected_version != req.version:
        raise RequestChanged(_l("Someone changed this request after you opened it. Nothing was saved: "
                                "look at it again and repeat your action if it still applies."))
    return req


def _ensure_open(req: PrivacyRequest) -> None:
    if not req.is_open:
        raise AlreadyDecided(_l("This request was already decided (%(status)s).", status=req.status_enum.label))


def extend_deadline(actor: Actor, req: PrivacyRequest, reason: str, *,
                    expected_version: int | None = None) -> datetime:
    """Extend the deadline once, under the GDPR only, before the first deadline passes, with a
    reason (audited PRIVACY_REQUEST_EXTEND); returns the new deadline. Raises PrivacyError."""
    ensure_may_manage(actor)
    lock(req, expected_version)
    _ensure_open(req)
    reason = _text(reason, "reason", required=True)
    if not deadlines.can_extend(req.jurisdiction):
        raise InvalidRequest(_l("Only the GDPR allows extending the deadline; UU PDP deadlines are fixed."), "reason")
    if req.extended_at is not None:
        raise InvalidRequest(_l("The deadline was already extended once; the GDPR allows no second extension."),
                             "reason")
    now = utcnow()
    if now > req.original_due_at:
        raise InvalidRequest(_l("The first deadline has passed: an extension had to be decided and told to the "
                                "subject before it."), "reason")
    before = req.due_at
    req.due_at = deadlines.extended_due_at(req.received_at, req.original_due_at)
    req.extended_at, req.extension_reason = now, reason
    db.session.flush()
    record_event(req, EventKind.EXTENDED, actor, reason)
    audit.log(actor, AuditAction.PRIVACY_REQUEST_EXTEND, resource=req,
              description=f"{req.reference}: deadline extended", changes={"due_at": {"before": before,
                                                                                      "after": req.due_at}})
    return req.due_at


def complete_request(actor: Actor, req: PrivacyRequest, outcome: str, note: str, *,
                     expected_version: int | None = None) -> fulfilment.Fulfilment:
    """Complete a verified request: carry out what it asks where the portal does it
    (app.privacy.fulfilment: erasure, the access export), then record the outcome and what
    was done (audited PRIVACY_REQUEST_COMPLETE); returns what the portal did. Raises
    NotVerified, AlreadyDecided, InvalidRequest, RequestChanged, or FulfilmentUnavailable
    (nothing changed)."""
    ensure_may_manage(actor)
    lock(req, expected_version)
    _ensure_open(req)
    if req.status_enum is not RequestStatus.VERIFIED:
        raise NotVerified(_l("Verify the requester's identity before completing the request."))
    outcome = _choice(Outcome, outcome, "outcome")
    note = _text(note, "note", required=True)
    done = fulfilment.fulfil(actor, req)
    now = utcnow()
    req.status, req.outcome, req.decision_note = RequestStatus.COMPLETED.value, outcome.value, note
    req.decided_at, req.decided_by_id = now, actor.user_id
    req.verification_token_hash = None
    db.session.flush()
    record_event(req, EventKind.COMPLETED, actor, f"{note}\n{done.line}" if done.line else note)
    audit.log(actor, AuditAction.PRIVACY_REQUEST_COMPLETE, resource=req,
              description=f"{req.reference} completed ({outcome.value})",
              changes={"status": {"before": RequestStatus.VERIFIED.value, "after": req.status},
                       "outcome": outcome.value})
    return done


def refuse_request(actor: Actor, req: PrivacyRequest, reason: str, note: str, *,
                   expected_version: int | None = None) -> PrivacyRequest:
    """Refuse a request with a reason and its explanation (audited PRIVACY_REQUEST_REFUSE).

    Only a verified request is refused on its merits; before verification the one reason
    is that the identity could not be verified. Raises PrivacyError."""
    ensure_may_manage(actor)
    lock(req, expected_version)
    _ensure_open(req)
    reason = _choice(RefusalReason, reason, "reason")
    note = _text(note, "note", required=True)
    if req.status_enum is RequestStatus.RECEIVED and reason is not RefusalReason.IDENTITY_NOT_VERIFIED:
        raise NotVerified(_l("Verify the requester's identity before deciding; until then the only refusal is "
                             "that the identity could not be verified."))
    before = req.status
    now = utcnow()
    req.status, req.refusal_reason, req.decision_note = RequestStatus.REFUSED.value, reason.value, note
    req.decided_at, req.decided_by_id = now, actor.user_id
    req.verification_token_hash = None
    db.session.flush()
    record_event(req, EventKind.REFUSED, actor, note)
    audit.log(actor, AuditAction.PRIVACY_REQUEST_REFUSE, resource=req,
              description=f"{req.reference} refused ({reason.value})",
              changes={"status": {"before": before, "after": req.status}, "refusal_reason": reason.value})
    return req


def search(values: dict, now: datetime | None = None) -> Select:
    """The requests matching the list filters: status ("open" for received or verified), kind,
    jurisdiction, deadline (overdue, due_soon, on_time) and a due range."""
    now = now or utcnow()
    query = select(PrivacyRequest)
    if (status := values.get("status")) == "open":
        query = query.where(PrivacyRequest.status.in_(OPEN_STATUSES))
    elif status:
        query = query.where(PrivacyRequest.status == status)
    if kind := values.get("kind"):
        query = query.where(PrivacyRequest.kind == kind)
    if jurisdiction := values.get("jurisdiction"):
        query = query.where(PrivacyRequest.jurisdiction == jurisdiction)
    if deadline := values.get("deadline"):
        query = query.where(PrivacyRequest.status.in_(OPEN_STATUSES))
        if deadline == "overdue":
            query = query.where(PrivacyRequest.due_at < now)
        elif deadline == "due_soon":
            query = query.where(PrivacyRequest.due_at >= now, PrivacyRequest.due_at < now + reminder_window())
        elif deadline == "on_time":
            query = query.where(PrivacyRequest.due_at >= now)
    if due := values.get("due"):
        start, end = due
        if start is not None:
            query = query.where(PrivacyRequest.due_at >= start)
        if end is not None:
            query = query.where(PrivacyRequest.due_at < end)
    return query


def reminder_window() -> timedelta:
    """How long before its deadline an open request counts as due soon (a setting)."""
    return timedelta(hours=settings.get("privacy_reminder_hours"))

