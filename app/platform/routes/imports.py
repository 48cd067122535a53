"""Bulk import of customers: upload, preview, import (all or nothing), discard."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.platform import bp
from app.platform.forms import ImportConfirmForm, ImportUploadForm
from app.platform.models import ImportStatus
from app.platform.services import imports as service
from app.platform.services.customer_validation import COLUMNS
from app.security.access import Permission, institution_scope, requires
from app.security.actor import actor_from_request

PREVIEW_ROWS = 20


@bp.route("/customers/import", methods=["GET", "POST"])
@requires(Permission.MANAGE_CUSTOMERS)
def customer_import():
    form = ImportUploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            staged, _validation = service.stage(actor_from_request(), upload.filename, upload.read())
        except service.ImportRefused as exc:
            form.file.errors.append(exc.message)
        else:
            return redirect(url_for("platform.customer_import_preview", import_id=staged.id))
    own = current_user.institution if institution_scope(actor_from_request()) is not None else None
    return render_template("platform/imports/upload.html", form=form, columns=COLUMNS,
                           own_institution=own), 400 if form.errors else 200


def _preview(staged, validation, status: int = 200):
    return render_template("platform/imports/preview.html", staged=staged, validation=validation,
                           sample=list(zip(validation.lines, validation.rows, strict=True))[:PREVIEW_ROWS],
                           form=ImportConfirmForm(sha256=staged.file_sha256)), status


@bp.get("/customers/import/<int:import_id>")
@requires(Permission.MANAGE_CUSTOMERS)
def customer_import_preview(import_id: int):
    staged = service.get_for(actor_from_request(), import_id)
    if staged.status != ImportStatus.PREVIEWED.value:
        return render_template("platform/imports/done.html", staged=staged)
    return _preview(staged, service.check(staged))


@bp.post("/customers/import/<int:import_id>/confirm")
@requires(Permission.MANAGE_CUSTOMERS)
def customer_import_confirm(import_id: int):
    actor = actor_from_request()
    staged = service.get_for(actor, import_id)
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("platform.customer_import_preview", import_id=staged.id))
    try:
        count = service.run(actor, staged, expected_sha256=form.sha256.data or "")
    except service.ImportHasErrors as exc:
        flash(exc.message, "danger")
        return _preview(staged, exc.validation, 409)
    except service.ImportRefused as exc:
        flash(exc.message, "danger")
        return redirect(url_for("platform.customer_import_preview", import_id=staged.id))
    flash(ngettext("Imported %(num)d customer from %(file)s.", "Imported %(num)d customers from %(file)s.",
                   count, file=staged.filename), "success")
    return redirect(url_for("platform.customer_import_preview", import_id=staged.id))


@bp.post("/customers/import/<int:import_id>/discard")
@requires(Permission.MANAGE_CUSTOMERS)
def customer_import_discard(import_id: int):
    actor = actor_from_request()
    staged = service.get_for(actor, import_id)
    if ImportConfirmForm().validate_on_submit():
        service.discard(actor, staged)
        flash(_("The upload was discarded; nothing was imported."), "info")
    return redirect(url_for("platform.customer_import"))
