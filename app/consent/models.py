"""The consent store: versioned notices and append-only consent events.

Neither table is ever updated or deleted from: a notice, once published, is what people
read and agreed to; an event is proof of what someone chose and when. The current choice
of a subject is derived from the events (app.consent.services), never stored.
"""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime, utcnow
from app.extensions import db

SUBJECT_KINDS = ("user", "customer")  # as app.personal_data.catalogue.SUBJECT_KINDS names them
MAX_NOTICE_TEXT = 5000
MAX_EVIDENCE = 300


class ConsentSource(enum.StrEnum):
    """Where a choice was made."""

    ACCOUNT = "account"  # the person on their own account page
    STAFF = "staff"  # staff recording a consent given outside the portal (a paper form)
    API = "api"  # the person in a platform app, recorded through the JSON API with a staff token

    @property
    def label(self):
        return {
            ConsentSource.ACCOUNT: _l("Account page"),
            ConsentSource.STAFF: _l("Recorded by staff"),
            ConsentSource.API: _l("API"),
        }[self]


SOURCE_VALUES = tuple(s.value for s in ConsentSource)


class ImmutableRecord(Exception):
    """Something tried to change or delete a published notice or a consent event."""


class ConsentNotice(db.Model):
    """One published version of a purpose's notice, in English and Indonesian.

    ``material`` versions change what people agree to: consents given to an earlier version
    stop counting until given again. The first version of a purpose is always material.
    """

    __tablename__ = "consent_notices"
    __table_args__ = (
        UniqueConstraint("purpose", "version", name="uq_consent_notices_purpose_version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("version > 1 OR material", name="first_version_material"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    material: Mapped[bool] = mapped_column()
    text_en: Mapped[str] = mapped_column(Text)
    text_id: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    # Not a foreign key, like the audit log's actor ids: the record outlives the account.
    published_by_id: Mapped[int | None] = mapped_column(Integer)

    def text_for(self, locale: str) -> str:
        """The notice in ``locale`` ("id" or "en"; English for any other)."""
        return self.text_id if str(locale).startswith("id") else self.text_en

    def audit_repr(self) -> str:
        return f"{self.purpose} notice v{self.version}"


# SQLite only auto-numbers an INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class ConsentEvent(db.Model):
    """A subject gave (``granted``) or withdrew consent to a purpose, under one notice version.

    Subjects are portal users or customers (``subject_kind``, ``subject_id``), not foreign
    keys: the proof of consent outlives the account and carries no personal value itself.
    ``notice_version`` is copied from the notice so that the current choice is one indexed
    query. ``evidence`` says what staff saw ("paper form at the branch"); required for them.
    """

    __tablename__ = "consent_events"
    __table_args__ = (
        CheckConstraint(f"subject_kind IN {SUBJECT_KINDS!r}", name="subject_kind_valid"),
        CheckConstraint(f"source IN {SOURCE_VALUES!r}", name="source_valid"),
        CheckConstraint("source <> 'staff' OR evidence IS NOT NULL", name="staff_evidence"),
        Index("ix_consent_events_subject", "subject_kind", "subject_id", "purpose", "id"),
        Index("ix_consent_events_purpose", "purpose", "notice_version"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(40))
    notice_id: Mapped[int] = mapped_column(ForeignKey("consent_notices.id", ondelete="RESTRICT"), index=True)
    notice_version: Mapped[int] = mapped_column(Integer)
    granted: Mapped[bool] = mapped_column()
    source: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[str | None] = mapped_column(String(MAX_EVIDENCE))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())

    @property
    def source_enum(self) -> ConsentSource:
        return ConsentSource(self.source)

    def audit_repr(self) -> str:
        verb = "granted" if self.granted else "withdrawn"
        return f"{self.purpose} consent {verb} (notice v{self.notice_version})"


def _refuse_change(_mapper, _connection, target) -> None:
    raise ImmutableRecord(f"{type(target).__name__} rows are never changed or deleted")


for _model in (ConsentNotice, ConsentEvent):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)
