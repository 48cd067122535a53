"""Access export pages: start the export of a customer or an account, watch it, download the ZIP.

Every page needs exports.EXPORT_PERMISSION (one place to change it); starting and downloading
ask for a fresh proof of identity. Only the person who started an export sees it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, send_file, url_for
from flask_login import current_user

from app.jobs import progress
from app.jobs import services as jobs
from app.jobs.routes import JOB_ID
from app.privacy import bp, exports
from app.privacy.export import NoSuchPerson
from app.privacy.export_forms import ExportForm
from app.privacy.export_people import find_person, label_of
from app.security.access import ensure_visible, requires
from app.security.actor import actor_from_request
from app.security.stepup import step_up_required

KINDS = "any(customer, user)"


def _person_or_404(kind: str, ref_id: int):
    try:
        person = find_person(kind, ref_id)
    except NoSuchPerson:
        abort(404)
    ensure_visible(actor_from_request(), person.institution_id)
    return person


def _own_job_or_404(job_id: str):
    record = jobs.get(job_id) if JOB_ID.fullmatch(job_id) else None
    if record is None or record.name != exports.JOB or not progress.owned_by(record, current_user.id):
        abort(404)
    return record


@bp.route(f"/exports/new/<{KINDS}:kind>/<int:ref_id>", methods=["GET", "POST"])
@requires(exports.EXPORT_PERMISSION)
@step_up_required
def export_new(kind: str, ref_id: int):
    person = _person_or_404(kind, ref_id)
    form = ExportForm()
    if form.validate_on_submit():
        try:
            job_id = exports.start(actor_from_request(), kind, ref_id, request_ref=form.request_ref.data or None)
        except NoSuchPerson:
            abort(404)
        return redirect(url_for("privacy.export_status", job_id=job_id))
    back = url_for("platform.customer_detail", customer_id=ref_id) if kind == "customer" else url_for(
        "users.detail", user_id=ref_id)
    return render_template("privacy/export_new.html", person=person, label=label_of(person), form=form,
                           back=back, keep_hours=exports.keep_hours()), 400 if form.errors else 200


@bp.get("/exports/<job_id>")
@requires(exports.EXPORT_PERMISSION)
def export_status(job_id: str):
    record = _own_job_or_404(job_id)
    path = exports.file_of(record.id)
    ready = record.state == "succeeded" and path.is_file()
    expires = exports.expires_at(path) if ready else None
    if expires is not None and expires <= datetime.now(UTC):
        ready, expires = False, None
    return render_template("privacy/export_status.html", job=record, status=progress.as_json(record),
                           ready=ready, expires=expires, result=record.result or {})


@bp.post("/exports/<job_id>/download")
@requires(exports.EXPORT_PERMISSION)
@step_up_required
def export_download(job_id: str):
    record = jobs.get(job_id) if JOB_ID.fullmatch(job_id) else None
    try:
        path = exports.download(actor_from_request(), record)
    except exports.UnknownExport:
        abort(404)
    except exports.ExportGone as exc:
        flash(str(exc.reason), "warning")
        return redirect(url_for("privacy.export_status", job_id=job_id))
    name = f"personal-data-{record.params['kind']}-{record.params['ref_id']}-{record.id[:8]}.zip"
    response = send_file(path, as_attachment=True, download_name=name, mimetype="application/zip", max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response
