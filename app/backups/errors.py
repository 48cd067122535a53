"""Domain errors of the backup service; the CLI maps them to exit codes, the UI to messages."""

from __future__ import annotations


class BackupError(Exception):
    """Base class; the message is plain English for operators and logs."""

    exit_code = 1
    outcome = "failed"
    backup_id: str | None = None  # the backup concerned, when one exists


class BackupNotFound(BackupError):
    exit_code = 2
    outcome = "not_found"


class BackupBusy(BackupError):
    """Another backup, verification, drill, restore or cleanup is running."""

    exit_code = 3
    outcome = "busy"


class BackupFailed(BackupError):
    """Creating a backup failed; nothing usable was stored."""

    outcome = "backup_failed"


class VerificationFailed(BackupError):
    outcome = "verify_failed"


class DrillFailed(BackupError):
    outcome = "drill_failed"


class RestoreRefused(BackupError):
    """The restore did not start: nothing was changed."""

    outcome = "restore_refused"


class RestoreFailed(BackupError):
    """The restore failed after it started; ``rolled_back`` says whether the safety backup was put back."""

    outcome = "restore_failed"

    def __init__(self, message: str, *, rolled_back: bool, safety_id: str | None):
        super().__init__(message)
        self.rolled_back = rolled_back
        self.safety_id = safety_id
        if not rolled_back:
            self.exit_code = 4
            self.outcome = "rollback_failed"
