"""Setting a password through an e-mailed link: invitations and "forgot password"."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.auth import bp
from app.auth.forms import ForgotPasswordForm, SetPasswordForm
from app.mail import public_url
from app.security.access import public
from app.security.actor import actor_from_request
from app.security.passwords import WeakPassword
from app.users import invitations
from app.users.models import TokenPurpose


@bp.route("/forgot-password", methods=["GET", "POST"])
@public
def forgot_password():
    """Ask for a reset link. The answer is the same whether or not the address has an account."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        invitations.request_password_reset(
            actor_from_request(), form.email.data,
            link_for=lambda token: public_url("auth.reset_password", token=token))
        flash(_("If an account uses this address, a link to choose a new password is on its way. "
                "It works once, for one hour."), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form), 400 if request.method == "POST" else 200


def _set_password_page(token: str, purpose: TokenPurpose, template: str, done_message: str):
    try:
        link = invitations.find_usable(token, purpose)
    except invitations.LinkInvalid:
        return render_template("auth/link_invalid.html", purpose=purpose.value), 410
    form = SetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            invitations.use_link(actor_from_request(), token, purpose, form.new_password.data)
        except invitations.LinkInvalid:
            return render_template("auth/link_invalid.html", purpose=purpose.value), 410
        except WeakPassword as exc:
            form.new_password.errors.extend(exc.reasons)
            status = 400
        else:
            flash(done_message, "success")
            return redirect(url_for("auth.login"))
    elif request.method == "POST":
        status = 400
    return render_template(template, form=form, user=link.user), status


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    return _set_password_page(token, TokenPurpose.PASSWORD_RESET, "auth/reset_password.html",
                              _("Your password has been changed and every session of your account was ended. "
                                "Sign in with the new password."))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str):
    return _set_password_page(token, TokenPurpose.INVITATION, "auth/accept_invitation.html",
                              _("Your password is set. Sign in to start."))
