"""The background job of an access export, and what the progress panel says about it."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.database import transaction
from app.formatting import count
from app.jobs.services import JobContext, JobFailed, job
from app.jobs.store import JobRecord
from app.privacy import exports
from app.privacy.export import NoSuchPerson
from app.security.actor import Actor

STAGES = {
    "profile": _l("Reading the profile"),
    "transactions": _l("Writing the payments"),
    "approvals": _l("Writing the approval requests"),
    "audit": _l("Writing the audit entries"),
    "consents": _l("Writing the consents"),
    "packing": _l("Packing the ZIP file"),
}


@job(exports.JOB, timeout=2 * 3600)
def run_export(ctx: JobContext, kind: str, ref_id: int, request_ref: str | None = None):
    """Delete expired exports, then write this one and audit it (one transaction each)."""
    actor = Actor(**ctx.actor_fields)
    with transaction():
        exports.purge_expired(actor)
    try:
        with transaction():
            result = exports.write_export(actor, kind, ref_id, exports.file_of(ctx.record.id), progress=ctx.progress,
                                          job_id=ctx.record.id, request_ref=request_ref)
    except NoSuchPerson as exc:
        exports.discard(ctx.record.id)
        raise JobFailed("no_such_person", f"there is no {kind} #{ref_id}") from exc
    except BaseException:
        exports.discard(ctx.record.id)
        raise
    return "exported", result


def stage_label(record: JobRecord) -> str:
    if record.state == "queued":
        return _("Waiting for a background worker…")
    return str(STAGES.get(record.stage or "", _("Starting…")))


def describe(record: JobRecord) -> str:
    """One sentence about how the export ended (empty while it runs)."""
    if record.active:
        return ""
    if record.outcome == "exported":
        counts = (record.result or {}).get("counts", {})
        return _("The export is ready: %(payments)s payments, %(entries)s audit entries.",
                 payments=count(counts.get("transactions", 0)), entries=count(counts.get("audit_entries", 0)))
    if record.outcome == "no_such_person":
        return _("There is no such person (any more). Nothing was exported.")
    if record.outcome == "lost":
        return _("The background worker stopped before the export was finished. Start it again.")
    return _("The export failed unexpectedly; the error has been logged. Nothing was kept.")


def as_json(record: JobRecord) -> dict:
    """The wording GET /jobs/<id> adds for export jobs."""
    return {"title": _("Export of personal data"), "stage_label": stage_label(record), "message": describe(record)}
