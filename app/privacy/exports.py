"""Access exports as an operation: who may start one, the background job's file, its download
by the person who started it, and its deletion after ``privacy_export_keep_hours``.

Every step is audited without personal data: the entries name the customer or account by
id, the job, the counts and the SHA-256 of the file, never a name or an address.
Files live under ``<instance>/privacy-exports/<job id>.zip`` (readable by their owner only).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.audit import services as audit
from app.audit.models import AuditAction
from app.jobs import services as jobs
from app.jobs.progress import owned_by
from app.jobs.store import SUCCEEDED, JobRecord
from app.privacy.export import NoSuchPerson, export_subject
from app.privacy.export_people import find_person
from app.privacy.export_zip import ExportWriter
from app.security.access import ROLE_PERMISSIONS, Permission, has_permission, institution_scope
from app.security.actor import Actor
from app.security.roles import Role
from app.settings import services as settings

# Who may export a person's data: superadmins and privacy officers.
EXPORT_PERMISSION = Permission.MANAGE_PRIVACY
JOB = "privacy.export"
FOLDER = "privacy-exports"


class ExportRefused(Exception):
    """The export may not be started or downloaded; ``reason`` says why (nothing changed)."""

    def __init__(self, reason) -> None:
        super().__init__(str(reason))
        self.reason = reason


class UnknownExport(LookupError):
    """No export job of that id was started by this person (shown as 404)."""


class ExportGone(ExportRefused):
    """The export's file was deleted (its time ran out) or never made (the job failed)."""


def may_export(actor: Actor) -> bool:
    """Whether ``actor`` may export people's data (system actors: operators' commands)."""
    return actor.role is None or EXPORT_PERMISSION in ROLE_PERMISSIONS[Role(actor.role)]


def user_may_export(user) -> bool:
    """For templates: whether the signed-in ``user`` sees the export button."""
    return has_permission(user, EXPORT_PERMISSION)


def directory() -> Path:
    return Path(current_app.instance_path) / FOLDER


def file_of(job_id: str) -> Path:
    return directory() / f"{job_id}.zip"


def keep_hours() -> int:
    """How long a finished export stays downloadable (the setting ``privacy_export_keep_hours``)."""
    return settings.get("privacy_export_keep_hours")


def keep() -> timedelta:
    return timedelta(hours=keep_hours())


def expires_at(path: Path) -> datetime:
    """When the finished file at ``path`` is deleted."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC) + keep()


def start(actor: Actor, kind: str, ref_id: int, *, request_ref: str | None = None) -> str:
    """Queue the export of customer or account ``ref_id`` (audited PRIVACY_EXPORT_START); returns
    the job id. The job starts once the caller's transaction commits.

    Raises ExportRefused (no permission), NoSuchPerson (unknown, or outside the actor's institution).
    """
    if not may_export(actor):
        raise ExportRefused(_l("You may not export people's data."))
    person = find_person(kind, ref_id)
    scope = institution_scope(actor)
    if scope is not None and person.institution_id != scope:
        raise NoSuchPerson(kind, ref_id)
    job_id = jobs.enqueue(JOB, actor, kind=kind, ref_id=ref_id, request_ref=request_ref)
    audit.log(actor, AuditAction.PRIVACY_EXPORT_START, resource_type=kind, resource_id=ref_id,
              institution_id=person.institution_id,
              description=f"Started the access export of {kind} #{ref_id} (job {job_id})"
                          + (f" for request {request_ref}" if request_ref else ""),
              changes={"job": job_id, "request": request_ref})
    return job_id


def _digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_export(actor: Actor, kind: str, ref_id: int, path: Path, *, progress=None, job_id: str | None = None,
                 request_ref: str | None = None) -> dict:
    """Write the export's ZIP at ``path`` and audit it (PRIVACY_EXPORT_FINISH, in the caller's
    transaction: if that rolls back, the caller removes the file). Returns what was written
    (counts, bytes, SHA-256; no personal data). Raises NoSuchPerson."""
    summary = export_subject(kind, ref_id, ExportWriter(path), progress)
    result = {"counts": summary.counts, "bytes": path.stat().st_size, "sha256": _digest(path)}
    person = find_person(kind, ref_id)
    audit.log(actor, AuditAction.PRIVACY_EXPORT_FINISH, resource_type=kind, resource_id=ref_id,
              institution_id=person.institution_id,
              description=f"Exported the personal data of {kind} #{ref_id}" + (f" (job {job_id})" if job_id else ""),
              changes={**result, "job": job_id, "request": request_ref})
    return result


def discard(job_id: str) -> None:
    """Remove what a failed export job left (its file, if it got that far)."""
    file_of(job_id).unlink(missing_ok=True)


def download(actor: Actor, record: JobRecord | None) -> Path:
    """The finished file of an export job, for the person who started it (audited
    PRIVACY_EXPORT_DOWNLOAD). Raises UnknownExport for anyone else or another kind of job,
    ExportGone once the file is deleted or when the job did not succeed."""
    if record is None or record.name != JOB or not owned_by(record, actor.user_id):
        raise UnknownExport(record.id if record else None)
    if record.active:
        raise ExportGone(_l("This export is not ready yet. Wait until it is finished."))
    path = file_of(record.id)
    if record.state != SUCCEEDED or not path.is_file() or expires_at(path) <= datetime.now(UTC):
        raise ExportGone(_l("This export is no longer available. Start a new one."))
    kind, ref_id = record.params["kind"], record.params["ref_id"]
    audit.log(actor, AuditAction.PRIVACY_EXPORT_DOWNLOAD, resource_type=kind, resource_id=ref_id,
              description=f"Downloaded the access export of {kind} #{ref_id} (job {record.id})",
              changes={"job": record.id, "sha256": (record.result or {}).get("sha256")})
    return path


def purge_expired(actor: Actor) -> list[str]:
    """Delete the exports older than ``privacy_export_keep_hours`` and what failed jobs left
    (audited PRIVACY_EXPORT_DELETE when anything went); returns the deleted jobs' ids."""
    folder = directory()
    if not folder.is_dir():
        return []
    cutoff = time.time() - keep().total_seconds()
    deleted = []
    for path in sorted(folder.iterdir()):
        if path.stat().st_mtime > cutoff:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)  # staging of an export that died half-way
            continue
        path.unlink(missing_ok=True)
        if path.suffix == ".zip":
            deleted.append(path.stem)
    if deleted:
        audit.log(actor, AuditAction.PRIVACY_EXPORT_DELETE, resource_type="privacy_export",
                  description=f"Deleted {len(deleted)} access export(s) after {keep()}",
                  changes={"jobs": deleted})
    return deleted
