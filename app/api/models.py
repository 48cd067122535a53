"""Personal API tokens: bearer credentials for the JSON API, stored only as hashes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import UTCDateTime, utcnow
from app.extensions import db


class TokenScope(enum.StrEnum):
    READ = "read"
    WRITE = "write"  # read and write: approve and reject

    @property
    def label(self):
        from flask_babel import lazy_gettext as _l

        return {TokenScope.READ: _l("Read"), TokenScope.WRITE: _l("Read and write")}[self]

    def allows(self, needed: TokenScope) -> bool:
        return self is TokenScope.WRITE or needed is TokenScope.READ


class ApiToken(db.Model):
    """A token a user made for themselves (or a superadmin made for them).

    The token is shown once; only its SHA-256 is kept (it is long and random, so a
    plain hash suffices and lookups stay one indexed query). ``prefix`` (its first
    characters) lets people tell their tokens apart.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("scope IN ('read', 'write')", name="scope_valid"),
        Index("ix_api_tokens_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_ip: Mapped[str | None] = mapped_column(String(45))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user = relationship("User", foreign_keys=[user_id])
    created_by = relationship("User", foreign_keys=[created_by_id])

    @property
    def scope_enum(self) -> TokenScope:
        return TokenScope(self.scope)

    def status(self, now: datetime | None = None) -> str:
        """active, expired or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= (now or utcnow()) else "active"

    def audit_repr(self) -> str:
        return f"API token {self.prefix}… ({self.name}) of user {self.user_id}"
