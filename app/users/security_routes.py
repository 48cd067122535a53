"""Account security by administrators: others' sessions, two-factor reset and unlock,
and support impersonation (start and stop)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from app.auth import two_factor
from app.auth.forms import ConfirmForm
from app.security.access import Permission, requires, signed_in
from app.security.actor import actor_from_request
from app.security.stepup import step_up_required
from app.settings.services import get as setting
from app.users import account_sessions, bp, impersonation, impersonation_guard
from app.users.forms import ImpersonateForm, ReasonForm
from app.users.routes import visible_or_404


@bp.post("/users/<int:user_id>/sessions/end")
@requires(Permission.MANAGE_USERS, Permission.MANAGE_USER_SECURITY)
def end_sessions(user_id: int):
    """A superadmin ends one session of a user, or all of them."""
    user = visible_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    actor = actor_from_request()
    if request.form.get("scope") == "all":
        ended = account_sessions.end_all_sessions(actor, user)
        flash(ngettext("%(num)d session was ended.", "%(num)d sessions were ended.", ended), "success")
    elif account_sessions.end_session(actor, user, request.form.get("key", "")):
        flash(_("The session was ended; that browser is signed out."), "success")
    else:
        flash(_("That session had already ended."), "info")
    return redirect(url_for("users.detail", user_id=user.id))


@bp.route("/users/<int:user_id>/two-factor/reset", methods=["GET", "POST"])
@requires(Permission.MANAGE_USERS, Permission.MANAGE_USER_SECURITY)
@step_up_required
def reset_two_factor(user_id: int):
    """Recovery: remove every second factor of a user who lost them (with a reason)."""
    user = visible_or_404(user_id)
    form = ReasonForm()
    status = 200
    if form.validate_on_submit():
        try:
            ended = two_factor.reset_two_factor(actor_from_request(), user, form.reason.data)
        except two_factor.SecondFactorError:
            flash(_("Reset your own second factors on your security page."), "danger")
            status = 400
        else:
            flash(ngettext("Two-factor sign-in of %(email)s was reset and %(num)d session ended. They set up a "
                           "new second factor at their next sign-in.",
                           "Two-factor sign-in of %(email)s was reset and %(num)d sessions ended. They set up a "
                           "new second factor at their next sign-in.", ended, email=user.email), "success")
            return redirect(url_for("users.detail", user_id=user.id))
    elif request.method == "POST":
        status = 400
    return render_template("users/reset_two_factor.html", form=form, user=user,
                           factors=two_factor.summary(user)), status


@bp.post("/users/<int:user_id>/two-factor/unlock")
@requires(Permission.MANAGE_USERS, Permission.MANAGE_USER_SECURITY)
@step_up_required
def unlock_two_factor(user_id: int):
    user = visible_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if two_factor.unlock(actor_from_request(), user):
        flash(_("Authenticator codes of %(email)s are unlocked.", email=user.email), "success")
    else:
        flash(_("Authenticator codes of this account were not locked."), "info")
    return redirect(url_for("users.detail", user_id=user.id))


@bp.route("/users/<int:user_id>/impersonate", methods=["GET", "POST"])
@requires(Permission.MANAGE_USERS, Permission.IMPERSONATE)
@step_up_required
def impersonate(user_id: int):
    """Start seeing the portal as this user (a reason, read-only unless changes are allowed)."""
    user = visible_or_404(user_id)
    if not impersonation.can_impersonate(actor_from_request(), user):
        abort(403)
    form = ImpersonateForm()
    limit = setting("impersonation_time_limit")
    status = 200
    if form.validate_on_submit():
        try:
            record = impersonation.start(
                actor_from_request(), user, reason=form.reason.data,
                allow_changes=form.allow_changes.data, limit_seconds=limit,
                already_impersonating=impersonation_guard.is_active_in_session())
        except impersonation.ImpersonationRefused:
            flash(_("This impersonation cannot start."), "danger")
            status = 400
        else:
            impersonation_guard.begin(record)
            flash(_("You are now impersonating %(email)s.", email=user.email), "warning")
            return redirect(url_for("auth.index"))
    elif request.method == "POST":
        status = 400
    return render_template("users/impersonate.html", form=form, user=user, minutes=limit // 60), status


@bp.post("/impersonation/stop")
@signed_in
def stop_impersonation():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    target_id = impersonation_guard.finish("stopped")
    if target_id is None:
        return redirect(url_for("auth.index"))
    flash(_("The impersonation has ended. You are yourself again."), "success")
    return redirect(url_for("users.detail", user_id=target_id))
