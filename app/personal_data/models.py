"""Per-subject keys and the erasure ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime, utcnow
from app.extensions import db

_BigId = BigInteger().with_variant(Integer(), "sqlite")


class DataSubject(db.Model):
    """A person whose personal values are sealed under their own key.

    The id is the pseudonym the audit log shows once the person is erased ("erased subject
    #123"). ``wrapped_key`` is the subject's AES-SIV key, encrypted with the portal's
    ``ENCRYPTION_KEY``; erasure sets it to NULL, which makes every value sealed under it
    unreadable wherever it is stored (audit entries, backups) without touching those rows.
    """

    __tablename__ = "data_subjects"
    __table_args__ = (UniqueConstraint("kind", "ref_id", name="uq_data_subjects_kind_ref"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "customer" or "user"
    ref_id: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A legal hold (litigation, an authority's order): erasure is refused while it is set.
    hold_reason: Mapped[str | None] = mapped_column(Text)
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ErasureRecord(db.Model):
    """One erasure, with no personal data: re-applied after any restore of an older backup."""

    __tablename__ = "erasure_ledger"
    __table_args__ = (Index("ix_erasure_ledger_subject", "subject_id"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    ref_id: Mapped[int] = mapped_column(Integer)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    request_ref: Mapped[str | None] = mapped_column(String(64))  # the data-subject request, if any
