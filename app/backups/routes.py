"""The backups page (superadmins): list, back up now, verify, drill, download, restore."""

from __future__ import annotations

import time

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from app.audit import services as audit
from app.audit.models import AuditAction
from app.backups import bp, catalogue, messages
from app.backups.errors import BackupNotFound
from app.backups.forms import RestoreForm
from app.backups.jobs import JOB_PREFIX
from app.backups.restore import restore_plan
from app.backups.storage import StorageError, get_storage
from app.jobs import services as jobs
from app.security.access import Permission, requires
from app.security.actor import actor_from_request
from app.security.stepup import step_up_required
from app.settings import services as settings

RECENT_JOB_SECONDS = 15 * 60
messages.init_templates(bp)


def _backup_or_404(backup_id: str):
    try:
        return catalogue.get_backup(backup_id)
    except BackupNotFound:
        abort(404)


def _start(job: str, **params):
    """Queue a backup job unless one is already queued or running; back to the list either way."""
    running = jobs.active(JOB_PREFIX)
    if running is not None:
        flash(_("Another backup operation is running. Wait for it to finish."), "warning")
    else:
        jobs.enqueue(job, actor_from_request(), **params)
    return redirect(url_for("backups.index"))


@bp.get("/")
@requires(Permission.MANAGE_BACKUPS)
def index():
    page = catalogue.catalogue_page(request.args.get("cursor"), request.args.get("dir", "next"))
    latest = next(iter(jobs.recent(JOB_PREFIX, limit=1)), None)
    if latest is not None and latest.finished and time.time() - (latest.finished_at or 0) > RECENT_JOB_SECONDS:
        latest = None
    return render_template(
        "backups/index.html", page=page, job=latest, job_json=messages.as_json(latest) if latest else None,
        age=catalogue.newest_verified_backup_age(), stale=catalogue.newest_verified_backup_is_stale(),
        storage=get_storage().describe(), encrypted=bool(current_app.config["BACKUP_ENCRYPTION_KEYS"]),
        retention_days=settings.get("backup_retention_days"), keep_verified=settings.get("backup_keep_verified"),
        drill_after_create=settings.get("backup_drill_after_create"))


@bp.post("/create")
@requires(Permission.MANAGE_BACKUPS)
def create():
    return _start("backups.create", kind="manual")


@bp.post("/<backup_id>/verify")
@requires(Permission.MANAGE_BACKUPS)
def verify(backup_id: str):
    return _start("backups.verify", backup_id=_backup_or_404(backup_id).id)


@bp.post("/<backup_id>/drill")
@requires(Permission.MANAGE_BACKUPS)
def drill(backup_id: str):
    return _start("backups.drill", backup_id=_backup_or_404(backup_id).id)


@bp.get("/<backup_id>/download")
@requires(Permission.MANAGE_BACKUPS)
@step_up_required
def download(backup_id: str):
    backup = _backup_or_404(backup_id)
    storage = get_storage()
    name = backup.manifest["artifact"]
    audit.log(actor_from_request(), AuditAction.BACKUP_DOWNLOAD, resource=backup,
              description=f"Downloaded backup {backup.id} ({name})")
    if storage.kind == "s3":
        return redirect(storage.download_url(name))
    try:
        with storage.fetch(name) as path:
            return send_file(path, as_attachment=True, download_name=name, mimetype="application/octet-stream")
    except StorageError:
        abort(404)


@bp.route("/<backup_id>/restore", methods=["GET", "POST"])
@requires(Permission.MANAGE_BACKUPS)
@step_up_required
def restore(backup_id: str):
    backup = _backup_or_404(backup_id)
    form = RestoreForm(backup.id)
    form.confirmation.description = _("To confirm, type the backup id %(id)s.", id=backup.id)
    status = 200
    if form.validate_on_submit():
        return _start("backups.restore", backup_id=backup.id)
    if request.method == "POST":
        status = 400
    plan = restore_plan(backup.manifest)
    return render_template("backups/restore.html", backup=backup, plan=plan, form=form,
                           running=jobs.active(JOB_PREFIX)), status

