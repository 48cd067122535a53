"""The backup catalogue: one row per stored backup, rebuilt from the storage on demand.

The storage (manifests and status files beside the artifacts) is the source of truth:
a restore brings back the catalogue of its own time, and ``sync_catalogue`` then makes
the table match what is stored again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime
from app.extensions import db

PASSED, FAILED = "passed", "failed"


class Backup(db.Model):
    __tablename__ = "backups"
    __table_args__ = (Index("ix_backups_created_at_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(16))  # manual, scheduled, safety
    engine: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(254))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    compression: Mapped[str] = mapped_column(String(8))
    encrypted: Mapped[bool] = mapped_column(Boolean)
    alembic_revision: Mapped[str | None] = mapped_column(String(64))
    storage: Mapped[str] = mapped_column(String(8))
    manifest: Mapped[dict] = mapped_column(JSON)
    verify_status: Mapped[str | None] = mapped_column(String(8))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verify_detail: Mapped[str | None] = mapped_column(Text)
    drill_status: Mapped[str | None] = mapped_column(String(8))
    drilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    drill_detail: Mapped[str | None] = mapped_column(Text)
    drill_seconds: Mapped[float | None] = mapped_column(Float)

    @property
    def verified(self) -> bool:
        return self.verify_status == PASSED

    @property
    def status(self) -> str:
        """``failed`` when a check failed, ``verified``/``drilled`` when they passed, else ``unverified``."""
        if FAILED in (self.verify_status, self.drill_status):
            return "failed"
        if self.drill_status == PASSED:
            return "drilled"
        return "verified" if self.verified else "unverified"

    @property
    def duration_seconds(self) -> float | None:
        return self.manifest.get("duration_seconds")

    @property
    def tables(self) -> dict[str, int]:
        return self.manifest.get("tables", {})

    def audit_repr(self) -> str:
        return f"Backup {self.id}"
