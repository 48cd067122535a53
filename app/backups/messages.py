"""What the UI says about backup jobs: stage names and outcomes, in the reader's language."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.database import utcnow
from app.formatting import decimal_text, when_text
from app.jobs.store import JobRecord

STAGES = {
    "dumping": _l("Dumping the database"),
    "storing": _l("Storing the backup"),
    "verifying": _l("Verifying"),
    "drilling": _l("Restore drill in a scratch database"),
    "cleanup": _l("Applying retention"),
    "restoring": _l("Restoring the database"),
    "upgrading": _l("Upgrading the schema"),
    "rolling_back": _l("Rolling back to the safety backup"),
    "checking": _l("Checking the result"),
}

KINDS = {"manual": _l("manual"), "scheduled": _l("scheduled"), "safety": _l("safety")}
STATUSES = {"unverified": _l("not verified"), "verified": _l("verified"), "drilled": _l("drill passed"),
            "failed": _l("failed")}

JOB_TITLES = {
    "backups.create": _l("Backup"),
    "backups.verify": _l("Verification"),
    "backups.drill": _l("Restore drill"),
    "backups.restore": _l("Restore"),
}


def stage_label(record: JobRecord) -> str:
    if record.state == "queued":
        return _("Waiting for a background worker…")
    return str(STAGES.get(record.stage or "", _("Starting…")))


def describe(record: JobRecord) -> str:
    """One sentence about how the job ended (empty while it runs)."""
    if record.active:
        return ""
    r = record.result or {}
    backup_id, detail, safety = r.get("backup_id") or "", r.get("detail") or record.error or "", r.get("safety_id")
    messages = {
        "backup_created": lambda: _("Backup %(id)s was created and verified.", id=backup_id) + (
            " " + _("The restore drill passed.") if r.get("drilled") else ""),
        "verified": lambda: _("Backup %(id)s passed verification.", id=backup_id),
        "drilled": lambda: _("The restore drill of backup %(id)s passed.", id=backup_id),
        "restored": lambda: _("Backup %(id)s was restored. The data it replaced is kept in safety backup %(safety)s.",
                              id=backup_id, safety=safety),
        "busy": lambda: _("Another backup operation is running. Try again when it has finished."),
        "not_found": lambda: _("That backup does not exist (any more)."),
        "backup_failed": lambda: _("The backup failed and nothing was stored: %(detail)s", detail=detail),
        "verify_failed": lambda: _("Backup %(id)s failed verification: %(detail)s", id=backup_id, detail=detail),
        "drill_failed": lambda: _("The restore drill of backup %(id)s failed: %(detail)s", id=backup_id,
                                  detail=detail),
        "restore_refused": lambda: _("The restore did not start and nothing was changed: %(detail)s", detail=detail),
        "restore_failed": lambda: _(
            "The restore failed: %(detail)s. The database was rolled back to safety backup %(safety)s, so your "
            "data is as it was before the restore.", detail=detail, safety=safety),
        "rollback_failed": lambda: _(
            "The restore failed (%(detail)s) and rolling back to safety backup %(safety)s failed too. Restore that "
            "backup from the command line now (docs/BACKUP_RECOVERY.md).", detail=detail, safety=safety),
        "lost": lambda: _("The background worker stopped before the job finished. Check the list below before "
                          "trying again."),
    }
    say = messages.get(record.outcome or "")
    return say() if say else _("The job failed unexpectedly; the error has been logged.")


def as_json(record: JobRecord) -> dict:
    """The job status the progress bar polls for."""
    return {
        "id": record.id, "name": record.name, "title": str(JOB_TITLES.get(record.name, record.name)),
        "state": record.state, "percent": record.percent, "stage": record.stage,
        "stage_label": stage_label(record), "finished": record.finished,
        "ok": record.state == "succeeded", "message": describe(record),
        "backup_id": (record.result or {}).get("backup_id") or record.params.get("backup_id"),
    }


def filesize(n: int | None) -> str:
    """Bytes in the reader's number format: ``1.5 MiB``."""
    if n is None:
        return ""
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{decimal_text(round(value, 1 if unit != 'B' else 0))} {unit}"


def age(moment: datetime) -> str:
    return format_timedelta(utcnow() - moment)


def job_time(timestamp: int) -> str:
    return when_text(datetime.fromtimestamp(timestamp, UTC), "short")


def init_templates(bp) -> None:
    bp.add_app_template_filter(filesize, "filesize")
    bp.add_app_template_filter(age, "age")
    bp.add_app_template_filter(job_time, "job_time")
    bp.context_processor(lambda: {"kind_labels": KINDS, "status_labels": STATUSES})
