"""Data-subject requests and their timeline.

A request names its subject by type and id only (a customer or a portal user): the
subject's name and address are read from their own row when shown, so an erased
subject is not kept here under another name. Notes that staff write are part of the
privacy records (app.personal_data.catalogue: ``privacy_records``).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import UTCDateTime, utcnow
from app.extensions import db


class Labelled(enum.StrEnum):
    """An enum whose members have a translated label (``labels()`` of the class)."""

    @property
    def label(self):
        return self.labels()[self]

    @classmethod
    def labels(cls) -> dict:
        raise NotImplementedError

    @classmethod
    def choices(cls) -> list[tuple[str, object]]:
        return [(member.value, member.label) for member in cls]

    @classmethod
    def sql_values(cls) -> str:
        return "(" + ", ".join(f"'{member.value}'" for member in cls) + ")"


class SubjectType(Labelled):
    CUSTOMER = "customer"
    USER = "user"

    @classmethod
    def labels(cls):
        return {cls.CUSTOMER: _l("Customer"), cls.USER: _l("Portal user")}


class RequestKind(Labelled):
    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    OBJECTION = "objection"

    @classmethod
    def labels(cls):
        return {cls.ACCESS: _l("Access"), cls.RECTIFICATION: _l("Rectification"), cls.ERASURE: _l("Erasure"),
                cls.RESTRICTION: _l("Restriction of processing"), cls.OBJECTION: _l("Objection to processing")}


class Channel(Labelled):
    EMAIL = "email"
    WEB_FORM = "web_form"
    LETTER = "letter"
    PHONE = "phone"
    IN_PERSON = "in_person"
    OTHER = "other"

    @classmethod
    def labels(cls):
        return {cls.EMAIL: _l("E-mail"), cls.WEB_FORM: _l("Web form"), cls.LETTER: _l("Letter"),
                cls.PHONE: _l("Phone"), cls.IN_PERSON: _l("In person"), cls.OTHER: _l("Other")}


class Jurisdiction(Labelled):
    GDPR = "gdpr"
    UU_PDP = "uu_pdp"

    @classmethod
    def labels(cls):
        return {cls.GDPR: _l("GDPR (EU 2016/679)"), cls.UU_PDP: _l("UU PDP (Law 27 of 2022)")}


class RequestStatus(Labelled):
    RECEIVED = "received"
    VERIFIED = "verified"
    COMPLETED = "completed"
    REFUSED = "refused"

    @classmethod
    def labels(cls):
        return {cls.RECEIVED: _l("Received"), cls.VERIFIED: _l("Identity verified"),
                cls.COMPLETED: _l("Completed"), cls.REFUSED: _l("Refused")}

    @property
    def is_open(self) -> bool:
        return self in (RequestStatus.RECEIVED, RequestStatus.VERIFIED)


OPEN_STATUSES = (RequestStatus.RECEIVED.value, RequestStatus.VERIFIED.value)


class VerificationMethod(Labelled):
    EMAIL_LINK = "email_link"  # the subject opened the link mailed to their registered address
    ID_DOCUMENT = "id_document"
    VIDEO_CALL = "video_call"
    SIGNED_LETTER = "signed_letter"
    CALLBACK = "callback"
    OTHER = "other"

    @classmethod
    def labels(cls):
        return {cls.EMAIL_LINK: _l("Confirmed from the registered e-mail address"),
                cls.ID_DOCUMENT: _l("Identity document checked"),
                cls.VIDEO_CALL: _l("Video call"),
                cls.SIGNED_LETTER: _l("Signed letter"),
                cls.CALLBACK: _l("Call back to the registered phone number"),
                cls.OTHER: _l("Other check")}


MANUAL_METHODS = tuple(m for m in VerificationMethod if m is not VerificationMethod.EMAIL_LINK)


class Outcome(Labelled):
    """How a completed request was answered."""

    FULFILLED = "fulfilled"
    PARTLY_FULFILLED = "partly_fulfilled"  # e.g. erasure where the law requires keeping payment records

    @classmethod
    def labels(cls):
        return {cls.FULFILLED: _l("Fulfilled"),
                cls.PARTLY_FULFILLED: _l("Partly fulfilled (some data must be kept by law)")}


class RefusalReason(Labelled):
    LEGAL_HOLD = "legal_hold"
    UNFOUNDED_OR_EXCESSIVE = "unfounded_or_excessive"
    RIGHTS_OF_OTHERS = "rights_of_others"
    IDENTITY_NOT_VERIFIED = "identity_not_verified"  # the one refusal open before verification
    OTHER = "other"

    @classmethod
    def labels(cls):
        return {cls.LEGAL_HOLD: _l("Legal hold or legal obligation to keep the data"),
                cls.UNFOUNDED_OR_EXCESSIVE: _l("Manifestly unfounded or excessive"),
                cls.RIGHTS_OF_OTHERS: _l("Would disclose others' personal data or harm others"),
                cls.IDENTITY_NOT_VERIFIED: _l("The requester's identity could not be verified"),
                cls.OTHER: _l("Other reason")}


class EventKind(Labelled):
    REGISTERED = "registered"
    VERIFICATION_SENT = "verification_sent"
    VERIFIED = "verified"
    EXTENDED = "extended"
    COMPLETED = "completed"
    REFUSED = "refused"
    REMINDED = "reminded"

    @classmethod
    def labels(cls):
        return {cls.REGISTERED: _l("Registered"), cls.VERIFICATION_SENT: _l("Confirmation link sent"),
                cls.VERIFIED: _l("Identity verified"), cls.EXTENDED: _l("Deadline extended"),
                cls.COMPLETED: _l("Completed"), cls.REFUSED: _l("Refused"),
                cls.REMINDED: _l("Reminder sent")}


class PrivacyRequest(db.Model):
    """A request from a data subject, from its receipt to its decision."""

    __tablename__ = "privacy_requests"
    __table_args__ = (
        CheckConstraint(f"subject_type IN {SubjectType.sql_values()}", name="subject_type_valid"),
        CheckConstraint(f"kind IN {RequestKind.sql_values()}", name="kind_valid"),
        CheckConstraint(f"channel IN {Channel.sql_values()}", name="channel_valid"),
        CheckConstraint(f"jurisdiction IN {Jurisdiction.sql_values()}", name="jurisdiction_valid"),
        CheckConstraint(f"status IN {RequestStatus.sql_values()}", name="status_valid"),
        CheckConstraint("(status IN ('completed', 'refused')) = (decided_at IS NOT NULL)",
                        name="decision_matches_status"),
        CheckConstraint("(status = 'completed') = (outcome IS NOT NULL)", name="outcome_matches_status"),
        CheckConstraint("(status = 'refused') = (refusal_reason IS NOT NULL)", name="refusal_matches_status"),
        # Decided only once verified; the one exception is a refusal because identity could not be verified.
        CheckConstraint("verified_at IS NOT NULL OR status = 'received' OR refusal_reason = 'identity_not_verified'",
                        name="verified_before_decided"),
        Index("ix_privacy_requests_due_at_id", "due_at", "id"),
        Index("ix_privacy_requests_received_at_id", "received_at", "id"),
        Index("ix_privacy_requests_status_due_at", "status", "due_at"),
        Index("ix_privacy_requests_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    jurisdiction: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.RECEIVED.value)
    details: Mapped[str] = mapped_column(Text, default="", server_default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The deadline in force (extended or not) and the one first computed from the receipt.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    original_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    extended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extension_reason: Mapped[str | None] = mapped_column(Text)
    # Identity: the mailed link (only its SHA-256 is kept) or a check recorded by staff.
    verification_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    verification_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verification_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verification_method: Mapped[str | None] = mapped_column(String(16))
    verification_note: Mapped[str | None] = mapped_column(Text)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The decision.
    outcome: Mapped[str | None] = mapped_column(String(24))
    refusal_reason: Mapped[str | None] = mapped_column(String(24))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The local day of the last reminder: at most one a day (app.privacy.reminders).
    reminded_on: Mapped[date | None] = mapped_column(Date())
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    events = relationship("PrivacyRequestEvent", order_by="PrivacyRequestEvent.id", viewonly=True)

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_enum(self) -> RequestStatus:
        return RequestStatus(self.status)

    @property
    def kind_enum(self) -> RequestKind:
        return RequestKind(self.kind)

    @property
    def subject_type_enum(self) -> SubjectType:
        return SubjectType(self.subject_type)

    @property
    def channel_enum(self) -> Channel:
        return Channel(self.channel)

    @property
    def jurisdiction_enum(self) -> Jurisdiction:
        return Jurisdiction(self.jurisdiction)

    @property
    def verification_method_label(self):
        return VerificationMethod(self.verification_method).label if self.verification_method else None

    @property
    def outcome_label(self):
        return Outcome(self.outcome).label if self.outcome else None

    @property
    def refusal_reason_label(self):
        return RefusalReason(self.refusal_reason).label if self.refusal_reason else None

    @property
    def is_open(self) -> bool:
        return self.status_enum.is_open

    def is_overdue(self, now: datetime | None = None) -> bool:
        """Still open after its deadline."""
        return self.is_open and self.due_at < (now or utcnow())

    @property
    def reference(self) -> str:
        return f"DSR-{self.id:05d}"

    def audit_repr(self) -> str:
        # Pseudonymous on purpose: the audit log names the subject by type and id only.
        return f"{self.reference}: {self.kind} of {self.subject_type} #{self.subject_id}"


class PrivacyRequestEvent(db.Model):
    """One step in the timeline of a request (shown on its page, oldest first)."""

    __tablename__ = "privacy_request_events"
    __table_args__ = (
        CheckConstraint(f"kind IN {EventKind.sql_values()}", name="kind_valid"),
        Index("ix_privacy_request_events_request_id_id", "request_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("privacy_requests.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(254))  # a staff e-mail, "data subject" or "system"
    note: Mapped[str | None] = mapped_column(Text)

    @property
    def kind_enum(self) -> EventKind:
        return EventKind(self.kind)
