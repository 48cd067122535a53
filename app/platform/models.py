"""The platform's domain: institutions, their customers, transactions and approvals."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from app.database import UTCDateTime, utcnow
from app.extensions import db


class DecisionStatus(enum.StrEnum):
    """The life of anything that waits for a human decision."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


STATUS_VALUES = tuple(s.value for s in DecisionStatus)


class Institution(db.Model):
    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # The name as the list sorts it (case-insensitive), computed by the database so a keyset
    # cursor carries exactly the value the index orders by; see ix_institutions_name_order.
    name_order: Mapped[str] = column_property(func.lower(name))

    __mapper_args__ = {"version_id_col": version}

    def audit_repr(self) -> str:
        return f"{self.name} ({self.code})"


Index("ix_institutions_name_order", func.lower(Institution.name), Institution.id)


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("institution_id", "email", name="uq_customers_institution_email"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        Index("ix_customers_created_at", "created_at"),
        Index("ix_customers_full_name_id", "full_name", "id"),  # sortable column
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"))
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    institution = relationship(Institution, lazy="joined")

    __mapper_args__ = {"version_id_col": version}

    def audit_repr(self) -> str:
        return f"{self.full_name} <{self.email}>"

    def personal_data_subject(self) -> tuple[str, int]:
        """Audit entries about this customer seal their personal values under the customer's key."""
        return "customer", self.id


class Transaction(db.Model):
    """A payment in Indonesian rupiah that waits for approval; amounts are whole rupiah."""

    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint("amount_idr > 0", name="amount_positive"),
        CheckConstraint(f"status IN {STATUS_VALUES!r}", name="status_valid"),
        CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL)", name="decision_matches_status"
        ),
        Index("ix_transactions_status_id", "status", "id"),
        Index("ix_transactions_institution_id_id", "institution_id", "id"),
        Index("ix_transactions_created_at", "created_at"),
        # Sortable columns and the filters combined with them (list, charts).
        Index("ix_transactions_amount_idr_id", "amount_idr", "id"),
        Index("ix_transactions_status_created_at", "status", "created_at"),
        Index("ix_transactions_institution_id_created_at", "institution_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"))
    amount_idr: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(300), default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default=DecisionStatus.PENDING.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    customer = relationship(Customer)
    institution = relationship(Institution)
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}

    def audit_repr(self) -> str:
        return self.reference


class Approval(db.Model):
    """A request that another person must approve or reject (four-eyes principle)."""

    __tablename__ = "approvals"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUS_VALUES!r}", name="status_valid"),
        CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL)", name="decision_matches_status"
        ),
        Index("ix_approvals_status_requested_at", "status", "requested_at"),
        Index("ix_approvals_subject", "subject_type", "subject_id"),
        Index("ix_approvals_decided_at", "decided_at"),  # the decisions-per-day chart
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(64))
    subject_repr: Mapped[str] = mapped_column(String(300), default="", server_default="")
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("institutions.id", ondelete="RESTRICT"), index=True
    )
    summary: Mapped[str] = mapped_column(String(500), default="", server_default="")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=DecisionStatus.PENDING.value)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    institution = relationship(Institution)
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}

    def audit_repr(self) -> str:
        return f"{self.kind} #{self.id}: {self.subject_repr}"

    def personal_data_subject(self) -> tuple[str, int] | None:
        """A request about a customer or an account is recorded sealed under that person's key."""
        if self.subject_type in ("customer", "user") and str(self.subject_id).isdecimal():
            return self.subject_type, int(self.subject_id)
        return None


class ImportStatus(enum.StrEnum):
    PREVIEWED = "previewed"
    IMPORTED = "imported"
    DISCARDED = "discarded"


class CustomerImport(db.Model):
    """An uploaded customer file between its preview and its import.

    The file is kept (in the database, so every worker and host sees it) until it is
    imported or discarded; afterwards only its name, hash and counts remain.
    """

    __tablename__ = "customer_imports"
    __table_args__ = (
        CheckConstraint("status IN ('previewed', 'imported', 'discarded')", name="status_valid"),
        Index("ix_customer_imports_uploaded_by_id_id", "uploaded_by_id", "id"),
        Index("ix_customer_imports_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The uploader's scope: rows may go only into this institution (None: any).
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"))
    filename: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(8))
    file_sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Set when the preview found no problem: the normalised rows as CSV, ready for COPY, and
    # how many go into each institution ({"<institution id>": rows}).
    validated_rows: Mapped[bytes | None] = mapped_column(LargeBinary)
    institution_counts: Mapped[dict | None] = mapped_column(JSON)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    imported_count: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.PREVIEWED.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    uploaded_by = relationship("User", foreign_keys=[uploaded_by_id])
    institution = relationship(Institution)

    __mapper_args__ = {"version_id_col": version}

    def audit_repr(self) -> str:
        return f"{self.filename} ({self.file_sha256[:12]})"
