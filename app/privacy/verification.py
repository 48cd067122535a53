"""Verifying that a request comes from its data subject, before anything is decided.

Two ways, either or both: a confirmation link mailed to the subject's *registered*
address (never to an address the requester gives), valid for a setting's hours, of which
only a SHA-256 is kept; or a check that staff made themselves (an identity document, a
call back to the registered number, ...), recorded with its method and a note. Opening
the link changes nothing (mail scanners fetch links); confirming on its page does.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import mail
from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import utcnow
from app.extensions import db
from app.formatting import when_text
from app.privacy import subjects
from app.privacy.errors import AlreadyVerified, InvalidRequest, LinkInvalid
from app.privacy.models import MANUAL_METHODS, EventKind, PrivacyRequest, RequestStatus, VerificationMethod
from app.privacy.services import MAX_TEXT, ensure_may_manage, lock, record_event
from app.security.actor import Actor
from app.settings import services as settings

LinkBuilder = Callable[[str], str]
SUBJECT_LABEL = "data subject (e-mail link)"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _ensure_unverified(req: PrivacyRequest) -> None:
    if req.status_enum is not RequestStatus.RECEIVED:
        raise AlreadyVerified(_l("The requester's identity is already verified, or the request was decided."))


def _controller_line() -> str:
    name, contact = settings.get("privacy_controller_name"), settings.get("privacy_controller_contact")
    if name and contact:
        return f"{name} ({contact})"
    return name or contact or _("Saintara Admin")


def send_confirmation_link(actor: Actor, req: PrivacyRequest, *, link_for: LinkBuilder,
                           expected_version: int | None = None) -> None:
    """Mail a confirmation link to the subject's registered address; an earlier link stops
    working (audited PRIVACY_VERIFICATION_SEND). Raises AlreadyVerified or InvalidRequest."""
    ensure_may_manage(actor)
    lock(req, expected_version)
    _ensure_unverified(req)
    subject = subjects.get(req.subject_type, req.subject_id)
    if subject is None or not subject.email:
        raise InvalidRequest(_l("The data subject has no registered e-mail address: verify the identity another "
                                "way and record the check."))
    now = utcnow()
    token = secrets.token_urlsafe(32)
    hours = settings.get("privacy_verification_link_hours")
    req.verification_token_hash, req.verification_sent_at = _hash(token), now
    req.verification_expires_at = now + timedelta(hours=hours)
    db.session.flush()
    body = _(
        "Hello %(name)s,\n\n%(controller)s received a request about your personal data: %(kind)s "
        "(reference %(reference)s).\n\n"
        "If you made this request, confirm it by opening this link and pressing the button on the page "
        "(the link works until %(until)s):\n%(link)s\n\n"
        "If you did not make this request, do not open the link, and tell us: nothing happens without your "
        "confirmation.\n",
        name=subject.name, controller=_controller_line(), kind=req.kind_enum.label, reference=req.reference,
        until=when_text(req.verification_expires_at, "medium"), link=link_for(token))
    mail.send(subject.email, _("Confirm your request about your personal data (%(reference)s)",
                               reference=req.reference), body)
    record_event(req, EventKind.VERIFICATION_SENT, actor)
    audit.log(actor, AuditAction.PRIVACY_VERIFICATION_SEND, resource=req,
              description=f"{req.reference}: confirmation link mailed to the subject's registered address")


def find_by_link(token: str) -> PrivacyRequest:
    """The request a confirmation link belongs to while the link works; raises LinkInvalid."""
    req = db.session.scalar(select(PrivacyRequest).where(PrivacyRequest.verification_token_hash == _hash(token or "")))
    if (req is None or req.status_enum is not RequestStatus.RECEIVED or req.verification_expires_at is None
            or req.verification_expires_at <= utcnow()):
        raise LinkInvalid(_l("This link no longer works."))
    return req


def confirm_by_link(actor: Actor, token: str) -> PrivacyRequest:
    """The subject confirms the request from the mailed link: verified, the link used up
    (audited PRIVACY_REQUEST_VERIFY, by the anonymous visitor). Raises LinkInvalid."""
    req = find_by_link(token)
    lock(req)
    if req.verification_token_hash != _hash(token) or req.status_enum is not RequestStatus.RECEIVED:
        raise LinkInvalid(_l("This link no longer works."))  # used or replaced a moment ago
    _mark_verified(actor, req, VerificationMethod.EMAIL_LINK, None, label=SUBJECT_LABEL)
    return req


def record_manual_check(actor: Actor, req: PrivacyRequest, method: str, note: str, *,
                        expected_version: int | None = None) -> PrivacyRequest:
    """Record an identity check made by staff, with its method and what was checked
    (audited PRIVACY_REQUEST_VERIFY). Raises AlreadyVerified or InvalidRequest."""
    ensure_may_manage(actor)
    lock(req, expected_version)
    _ensure_unverified(req)
    try:
        method = VerificationMethod(method)
    except ValueError:
        method = None
    if method not in MANUAL_METHODS:
        raise InvalidRequest(_l("Choose how the identity was checked."), "method")
    note = (note or "").strip()
    if len(note) > MAX_TEXT:
        raise InvalidRequest(_l("Use at most %(n)d characters.", n=MAX_TEXT), "note")
    if len(note.replace(" ", "")) < 3:
        raise InvalidRequest(_l("Say what was checked, for example which document and its last digits."), "note")
    _mark_verified(actor, req, method, note)
    return req


def _mark_verified(actor: Actor, req: PrivacyRequest, method: VerificationMethod, note: str | None,
                   label: str | None = None) -> None:
    req.status = RequestStatus.VERIFIED.value
    req.verified_at, req.verified_by_id = utcnow(), actor.user_id
    req.verification_method, req.verification_note = method.value, note
    req.verification_token_hash = None
    db.session.flush()
    record_event(req, EventKind.VERIFIED, actor, note, label=label)
    audit.log(actor, AuditAction.PRIVACY_REQUEST_VERIFY, resource=req,
              description=f"{req.reference}: identity verified ({method.value})",
              changes={"status": {"before": RequestStatus.RECEIVED.value, "after": req.status},
                       "verification_method": method.value})
