"""Institutions: list, detail, create, edit, deactivate/reactivate, institution admins."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from app.extensions import db
from app.platform import bp, lists
from app.platform.forms import AssignAdminForm, ConfirmForm, InstitutionForm
from app.platform.models import Institution
from app.platform.routes.shared import stale_message, visible
from app.platform.services import StaleEdit, history
from app.platform.services import institutions as service
from app.security.access import Permission, requires
from app.security.actor import actor_from_request
from app.security.stepup import step_up_required
from app.users.models import User


def _institution(institution_id: int) -> Institution:
    return visible(db.session.get(Institution, institution_id))


@bp.get("/institutions")
@requires(Permission.VIEW_PORTAL)
def institutions():
    state = lists.INSTITUTIONS.state()
    return lists.INSTITUTIONS.respond(service.search(actor_from_request(), state.values), state,
                                      "platform/institutions/list.html", "institutions")


@bp.get("/institutions/<int:institution_id>")
@requires(Permission.VIEW_PORTAL)
def institution_detail(institution_id: int):
    institution = _institution(institution_id)
    return render_template("platform/institutions/detail.html", institution=institution,
                           admins=service.admins(institution), assign_form=AssignAdminForm(),
                           history=history("institution", institution.id))


def _save(form: InstitutionForm, institution: Institution | None):
    actor = actor_from_request()
    try:
        if institution is None:
            institution = service.create(actor, code=form.code.data, name=form.name.data)
            flash(_("Institution %(code)s created.", code=institution.code), "success")
        elif service.update(actor, institution, code=form.code.data, name=form.name.data,
                            expected_version=form.version.data):
            flash(_("Changes saved."), "success")
        else:
            flash(_("Nothing changed."), "info")
    except service.InvalidInstitution as exc:
        getattr(form, exc.field).errors.append(exc.message)
        return None
    return redirect(url_for("platform.institution_detail", institution_id=institution.id))


@bp.route("/institutions/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_INSTITUTIONS)
def institution_create():
    form = InstitutionForm()
    if form.validate_on_submit() and (done := _save(form, None)):
        return done
    status = 400 if form.errors else 200
    return render_template("platform/institutions/form.html", form=form, institution=None), status


@bp.get("/institutions/<int:institution_id>/edit")
@requires(Permission.MANAGE_INSTITUTIONS)
def institution_edit(institution_id: int):
    institution = _institution(institution_id)
    return render_template("platform/institutions/form.html", form=InstitutionForm(obj=institution),
                           institution=institution)


@bp.post("/institutions/<int:institution_id>/edit")
@requires(Permission.MANAGE_INSTITUTIONS)
def institution_update(institution_id: int):
    institution = _institution(institution_id)
    form = InstitutionForm()
    status = 400
    if form.validate_on_submit():
        try:
            if done := _save(form, institution):
                return done
        except StaleEdit as exc:
            flash(stale_message(exc), "danger")
            form = InstitutionForm(formdata=None, obj=institution)
            status = 409
    return render_template("platform/institutions/form.html", form=form, institution=institution), status


@bp.route("/institutions/<int:institution_id>/deactivate", methods=["GET", "POST"])
@requires(Permission.MANAGE_INSTITUTIONS)
@step_up_required
def institution_deactivate(institution_id: int):
    """A confirmation page listing what deactivation touches; the POST does it."""
    institution = _institution(institution_id)
    form = ConfirmForm(obj=institution)
    if form.validate_on_submit():
        try:
            service.set_active(actor_from_request(), institution, False, expected_version=form.version.data)
        except StaleEdit as exc:
            flash(stale_message(exc), "danger")
            return redirect(url_for("platform.institution_deactivate", institution_id=institution.id))
        flash(_("%(name)s is deactivated.", name=institution.name), "success")
        return redirect(url_for("platform.institution_detail", institution_id=institution.id))
    return render_template("platform/institutions/deactivate.html", institution=institution, form=form,
                           impact=service.deactivation_impact(institution))


@bp.post("/institutions/<int:institution_id>/reactivate")
@requires(Permission.MANAGE_INSTITUTIONS)
def institution_reactivate(institution_id: int):
    institution = _institution(institution_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            if service.set_active(actor_from_request(), institution, True, expected_version=form.version.data):
                flash(_("%(name)s is active again.", name=institution.name), "success")
        except StaleEdit as exc:
            flash(stale_message(exc), "danger")
    return redirect(url_for("platform.institution_detail", institution_id=institution.id))


@bp.post("/institutions/<int:institution_id>/admins")
@requires(Permission.MANAGE_INSTITUTIONS)
@step_up_required
def institution_admin_assign(institution_id: int):
    institution = _institution(institution_id)
    form = AssignAdminForm()
    if form.validate_on_submit():
        try:
            user = service.assign_admin(actor_from_request(), institution, form.email.data)
        except service.AdminAssignmentRefused as exc:
            form.email.errors.append(exc.message)
        else:
            flash(_("%(email)s is now an admin of %(name)s.", email=user.email, name=institution.name), "success")
            return redirect(url_for("platform.institution_detail", institution_id=institution.id))
    return render_template("platform/institutions/detail.html", institution=institution,
                           admins=service.admins(institution), assign_form=form,
                           history=history("institution", institution.id)), 400


@bp.route("/institutions/<int:institution_id>/admins/<int:user_id>/remove", methods=["GET", "POST"])
@requires(Permission.MANAGE_INSTITUTIONS)
@step_up_required
def institution_admin_remove(institution_id: int, user_id: int):
    institution = _institution(institution_id)
    user = db.session.get(User, user_id)
    if user is None or user.institution_id != institution.id:
        abort(404)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            service.remove_admin(actor_from_request(), institution, user)
        except service.AdminAssignmentRefused as exc:
            flash(exc.message, "warning")
        else:
            flash(_("%(email)s is no longer an admin of %(name)s; the account is deactivated.",
                    email=user.email, name=institution.name), "success")
        return redirect(url_for("platform.institution_detail", institution_id=institution.id))
    return render_template("platform/institutions/remove_admin.html", institution=institution, user=user, form=form)
