"""Background jobs of the backup feature: each runs one procedure and reports its progress."""

from __future__ import annotations

from app.backups import procedures
from app.backups.errors import BackupError, RestoreFailed
from app.jobs.services import JobContext, JobFailed, job
from app.security.access import Permission, has_permission
from app.security.actor import Actor

JOB_PREFIX = "backups."
LONG = 12 * 3600


def may_watch(user) -> bool:
    """Whether ``user`` may watch the progress of any backup job (whoever started it, the system
    included): everyone who manages backups, as the backups page shows them every job."""
    return has_permission(user, Permission.MANAGE_BACKUPS)


def _failed(exc: BackupError, **extra) -> JobFailed:
    backup_id = exc.backup_id or extra.pop("backup_id", None)
    extra.pop("backup_id", None)
    return JobFailed(exc.outcome, str(exc), backup_id=backup_id, detail=str(exc), **extra)


@job("backups.create", timeout=LONG)
def create(ctx: JobContext, kind: str = "manual"):
    try:
        result = procedures.create_backup(Actor(**ctx.actor_fields), kind=kind, report=ctx.progress)
    except BackupError as exc:
        raise _failed(exc) from exc
    return "backup_created", {"backup_id": result.backup_id, "drilled": bool(result.drilled),
                              "deleted": result.deleted, "size_bytes": result.manifest["size_bytes"]}


def _check(procedure, outcome: str):
    """A job that runs a check (verification or drill) of one backup."""

    def run(ctx: JobContext, backup_id: str):
        try:
            procedure(Actor(**ctx.actor_fields), backup_id, report=ctx.progress)
        except BackupError as exc:
            raise _failed(exc, backup_id=backup_id) from exc
        return outcome, {"backup_id": backup_id}

    return run


verify = job("backups.verify", timeout=LONG)(_check(procedures.verify_backup, "verified"))
drill = job("backups.drill", timeout=LONG)(_check(procedures.drill_backup, "drilled"))


@job("backups.restore", timeout=LONG)
def restore(ctx: JobContext, backup_id: str):
    try:
        result = procedures.restore_backup(Actor(**ctx.actor_fields), backup_id, report=ctx.progress)
    except RestoreFailed as exc:
        raise _failed(exc, backup_id=backup_id, safety_id=exc.safety_id, rolled_back=exc.rolled_back) from exc
    except BackupError as exc:
        raise _failed(exc, backup_id=backup_id) from exc
    return "restored", {"backup_id": backup_id, "safety_id": result.safety_id, "upgraded": result.upgraded}
