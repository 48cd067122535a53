"""Web Push subscriptions (one per device a person allowed) and the notices already sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime, utcnow
from app.extensions import db
from app.security.crypto import EncryptedText


class PushSubscription(db.Model):
    """A browser's push subscription for one user on one device.

    The endpoint is a capability URL of the push service and ``auth`` the secret the payload
    is encrypted for: both encrypted at rest; the endpoint's SHA-256 finds the row again.
    """

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(EncryptedText())
    endpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)
    p256dh: Mapped[str] = mapped_column(EncryptedText())
    auth: Mapped[str] = mapped_column(EncryptedText())
    device: Mapped[str] = mapped_column(String(100), default="", server_default="")
    locale: Mapped[str] = mapped_column(String(8), default="en", server_default="en")  # of the notifications
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def audit_repr(self) -> str:
        return f"push subscription {self.id} ({self.device or 'device'})"


class PushNotice(db.Model):
    """A notice that must go out once (an approval waiting too long): sent when its row exists."""

    __tablename__ = "push_notices"
    __table_args__ = (UniqueConstraint("kind", "ref", name="uq_push_notices_kind_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
