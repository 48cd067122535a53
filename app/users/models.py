"""The portal's users and their roles."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String, func, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import UTCDateTime, utcnow
from app.extensions import db


class Role(enum.StrEnum):
    """What a user is allowed to do; permissions are granted per role in app.security.access."""

    SUPERADMIN = "superadmin"
    ADMIN = "admin"
    INSTITUTION_ADMIN = "institution_admin"
    CUSTOMER = "customer"

    @property
    def label(self) -> str:
        from flask_babel import lazy_gettext as _l

        return {
            Role.SUPERADMIN: _l("Superadmin"),
            Role.ADMIN: _l("Admin"),
            Role.INSTITUTION_ADMIN: _l("Institution admin"),
            Role.CUSTOMER: _l("Customer"),
        }[self]

    @property
    def is_staff(self) -> bool:
        """Staff roles reach the portal; customers reach only their own account."""
        return self is not Role.CUSTOMER

    @property
    def needs_institution(self) -> bool:
        return self in (Role.INSTITUTION_ADMIN, Role.CUSTOMER)


ROLE_VALUES = tuple(r.value for r in Role)


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

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"
