"""The portal's users and their roles."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, false, func, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import UTCDateTime, utcnow
from app.extensions import db
from app.security.roles import ROLE_VALUES, Role  # noqa: F401  (the role column's values; re-exported)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint(f"role IN {ROLE_VALUES!r}", name="role_valid"),
        CheckConstraint(
            "(role IN ('institution_admin', 'customer')) = (institution_id IS NOT NULL)",
            name="institution_matches_role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased (see the check constraint), so the unique index is case-blind.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(32), index=True)
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("institutions.id", ondelete="RESTRICT"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    is_active_account: Mapped[bool] = mapped_column("is_active", default=True, server_default=true())
    # Null means the account cannot sign in with a password (e.g. invited, not yet set).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Two-factor bookkeeping, written with plain UPDATEs (not edits: no version bump).
    # When the policy began to apply to this account (the grace period counts from it),
    two_factor_policy_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # when sign-in last led the user to enrolment (at most once a day during the grace),
    two_factor_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # and when authenticator codes were locked after repeated failures.
    two_factor_locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    institution = relationship("Institution", lazy="joined")
    customer = relationship("Customer", foreign_keys=[customer_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return bool(self.is_active_account)

    @property
    def is_staff(self) -> bool:
        return self.role_enum.is_staff

    def audit_repr(self) -> str:
        return f"{self.display_name} <{self.email}>"

    def personal_data_subject(self) -> tuple[str, int]:
        """Audit entries about this account seal its personal values under its own key."""
        return "user", self.id

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class TokenPurpose(enum.StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a purpose, not a password)


class AccountToken(db.Model):
    """A one-time link that lets its holder set the account's password (invitation or reset).

    Only a SHA-256 of the token is stored: the link in the e-mail is the only copy.
    """

    __tablename__ = "account_tokens"
    __table_args__ = (
        CheckConstraint("purpose IN ('invitation', 'password_reset')", name="purpose_valid"),
        Index("ix_account_tokens_user_id_purpose", "user_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user = relationship("User", foreign_keys=[user_id])

    def is_open(self, now: datetime) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > now

    def audit_repr(self) -> str:
        return f"{self.purpose} link for user {self.user_id}"


class Impersonation(db.Model):
    """Support acting as a user: who, whom, why, until when, and whether changes were allowed."""

    __tablename__ = "impersonations"
    __table_args__ = (Index("ix_impersonations_target_id_started_at", "target_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    impersonator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    impersonator_email: Mapped[str] = mapped_column(String(254))
    target_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    allow_changes: Mapped[bool] = mapped_column(default=False, server_default=false())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(32))

    impersonator = relationship("User", foreign_keys=[impersonator_id])
    target = relationship("User", foreign_keys=[target_id])

    @property
    def over_at(self) -> datetime | None:
        """When it ended, or when its time ran out (a browser closed mid-way never says stop)."""
        if self.ended_at is not None:
            return self.ended_at
        return self.expires_at if self.expires_at <= utcnow() else None

    def audit_repr(self) -> str:
        return f"impersonation {self.id} of user {self.target_id} by {self.impersonator_email}"
