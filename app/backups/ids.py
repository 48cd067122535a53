"""Backup ids: ``20261126T021500Z-3fa9c1`` (UTC time, then random); they become file names and S3 keys."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from app.backups.errors import BackupNotFound
from app.database import utcnow

ID_PATTERN = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


def new_backup_id(now: datetime | None = None) -> str:
    return (now or utcnow()).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def check_id(backup_id: str) -> str:
    """The id when it is well-formed, else BackupNotFound (nothing else may reach the storage)."""
    if not isinstance(backup_id, str) or not ID_PATTERN.match(backup_id):
        raise BackupNotFound(f"{backup_id!r} is not a backup id")
    return backup_id
