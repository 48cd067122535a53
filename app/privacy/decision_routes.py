"""Steps of a request: verify the identity, extend the deadline, complete, refuse."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.database import roll_back
from app.formatting import when_text
from app.privacy import bp, fulfilment, verification
from app.privacy import services as service
from app.privacy.errors import PrivacyError, RequestChanged
from app.privacy.forms import CompleteForm, ExtendForm, ManualCheckForm, RefuseForm, SendLinkForm
from app.privacy.models import RefusalReason, RequestStatus
from app.privacy.routes import confirmation_link, detail_page, load, show_error
from app.security.access import Permission, requires
from app.security.actor import actor_from_request
from app.security.stepup import step_up_required


def _back(req):
    return redirect(url_for("privacy.request_detail", request_id=req.id))


def _changed(req, exc: PrivacyError):
    """A refused step: nothing of it stays (rolled back), the reason is shown with the request as it is now."""
    roll_back()
    flash(str(exc.message), "warning" if isinstance(exc, RequestChanged) else "danger")
    return _back(req)


@bp.post("/requests/<int:request_id>/send-link")
@requires(Permission.MANAGE_PRIVACY)
def request_send_link(request_id: int):
    """Mail (again) the confirmation link to the subject's registered address."""
    req = load(request_id)
    form = SendLinkForm()
    if not form.validate_on_submit():
        return detail_page(req, 400, send_form=form)
    try:
        verification.send_confirmation_link(actor_from_request(), req, link_for=confirmation_link,
                                            expected_version=form.version.data)
    except PrivacyError as exc:
        return _changed(req, exc)
    flash(_("A confirmation link was mailed to the subject's registered address; an earlier link no longer works."),
          "success")
    return _back(req)


@bp.post("/requests/<int:request_id>/verify")
@requires(Permission.MANAGE_PRIVACY)
def request_verify(request_id: int):
    """Record an identity check made by staff."""
    req = load(request_id)
    form = ManualCheckForm()
    if form.validate_on_submit():
        try:
            verification.record_manual_check(actor_from_request(), req, form.method.data, form.note.data or "",
                                             expected_version=form.version.data)
        except PrivacyError as exc:
            if exc.field is None:
                return _changed(req, exc)
            show_error(form, exc)
        else:
            flash(_("The identity check is recorded: the request can now be decided."), "success")
            return _back(req)
    return detail_page(req, 400, manual_form=form)


@bp.post("/requests/<int:request_id>/extend")
@requires(Permission.MANAGE_PRIVACY)
def request_extend(request_id: int):
    """Extend the deadline once (GDPR), with the reason."""
    req = load(request_id)
    form = ExtendForm()
    if form.validate_on_submit():
        try:
            due = service.extend_deadline(actor_from_request(), req, form.reason.data or "",
                                          expected_version=form.version.data)
        except PrivacyError as exc:
            if exc.field is None:
                return _changed(req, exc)
            show_error(form, exc)
        else:
            flash(_("The deadline is now %(when)s. Tell the subject, with the reason.", when=when_text(due, "medium")),
                  "success")
            return _back(req)
    return detail_page(req, 400, extend_form=form)


@bp.route("/requests/<int:request_id>/complete", methods=["GET", "POST"])
@requires(Permission.MANAGE_PRIVACY)
@step_up_required
def request_complete(request_id: int):
    """A page that says what completing does (for an erasure: erases); the POST does it."""
    req = load(request_id)
    form = CompleteForm(version=req.version) if not _posted() else CompleteForm()
    status = 200
    if req.status_enum is RequestStatus.VERIFIED and form.validate_on_submit():
        try:
            done = service.complete_request(actor_from_request(), req, form.outcome.data, form.note.data or "",
                                            expected_version=form.version.data)
        except PrivacyError as exc:
            if exc.field is None:
                return _changed(req, exc)
            show_error(form, exc)
        else:
            if done.export_job:  # an access request: its export runs in the background, on its own page
                flash(_("%(reference)s is completed. The export of the subject's data runs in the background: "
                        "download it here when it is ready.", reference=req.reference), "success")
                return redirect(url_for("privacy.export_status", job_id=done.export_job))
            flash(_("%(reference)s is completed.", reference=req.reference), "success")
            return _back(req)
    if _posted():
        status = 400
    return render_template("privacy/complete.html", req=req, form=form,
                           available=fulfilment.available(req.kind)), status


@bp.route("/requests/<int:request_id>/refuse", methods=["GET", "POST"])
@requires(Permission.MANAGE_PRIVACY)
@step_up_required
def request_refuse(request_id: int):
    """A page to refuse the request with a reason and its explanation."""
    req = load(request_id)
    form = RefuseForm(version=req.version) if not _posted() else RefuseForm()
    if req.status_enum is RequestStatus.RECEIVED:  # before verification, only this refusal is open
        form.reason.choices = [choice for choice in form.reason.choices
                               if choice[0] in ("", RefusalReason.IDENTITY_NOT_VERIFIED.value)]
    status = 200
    if req.is_open and form.validate_on_submit():
        try:
            service.refuse_request(actor_from_request(), req, form.reason.data, form.note.data or "",
                                   expected_version=form.version.data)
        except PrivacyError as exc:
            if exc.field is None:
                return _changed(req, exc)
            show_error(form, exc)
        else:
            flash(_("%(reference)s is refused. Tell the subject the reason.", reference=req.reference), "success")
            return _back(req)
    if _posted():
        status = 400
    return render_template("privacy/refuse.html", req=req, form=form), status


def _posted() -> bool:
    return request.method == "POST"
