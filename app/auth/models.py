"""Second factors: authenticator-app (TOTP) secrets, backup codes and passkeys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime, utcnow
from app.extensions import db
from app.security.crypto import EncryptedText

_BigInt = BigInteger().with_variant(Integer(), "sqlite")


class TotpCredential(db.Model):
    """A user's authenticator app. ``confirmed_at`` stays empty until a correct code was typed."""

    __tablename__ = "totp_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    secret: Mapped[str] = mapped_column(EncryptedText())  # base32, encrypted at rest
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The 30-second step of the last accepted code: a code of this step or earlier is a replay.
    last_used_step: Mapped[int | None] = mapped_column(_BigInt)

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None

    def audit_repr(self) -> str:
        return f"authenticator app of user {self.user_id}"


class BackupCode(db.Model):
    """One single-use recovery code, stored only as an argon2id hash."""

    __tablename__ = "backup_codes"
    __table_args__ = (Index("ix_backup_codes_user_id_used_at", "user_id", "used_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PasskeyCredential(db.Model):
    """A WebAuthn credential (passkey or security key) registered as a second factor."""

    __tablename__ = "passkey_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)  # base64url
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(_BigInt, default=0, server_default="0")
    transports: Mapped[list | None] = mapped_column(JSON)
    aaguid: Mapped[str | None] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def audit_repr(self) -> str:
        return f"passkey {self.name!r} of user {self.user_id}"
