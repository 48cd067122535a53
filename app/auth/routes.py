"""Sign-in, sign-out and the user's own account page."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user

from app.auth import bp
from app.auth import services as auth
from app.auth.forms import ChangePasswordForm, SignInForm, StepUpForm
from app.extensions import limiter
from app.security.access import public, signed_in
from app.security.actor import actor_from_request
from app.security.passwords import WeakPassword
from app.security.stepup import mark_stepped_up
from app.security.throttle import SIGN_IN_REQUESTS_PER_IP
from app.security.urls import safe_next_url
from app.users import services as users

# Kept across sign-in; everything else in the anonymous session is dropped.
_CARRIED_OVER = ("lang",)


def start_fresh_session() -> None:
    """Drop everything in the session but the language, under a new id.

    The old id is deleted on the server, so a copy of the old cookie opens nothing.
    """
    carried = {k: session[k] for k in _CARRIED_OVER if k in session}
    session.clear()
    session.update(carried)
    session.regenerate()


def home_for(user) -> str:
    """Where a user lands: the dashboard for staff, their account page for customers."""
    return url_for("dashboard.index") if user.is_staff else url_for("auth.account")


@bp.get("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.login"))


def _minutes(seconds: int) -> int:
    return max(1, -(-seconds // 60))


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(SIGN_IN_REQUESTS_PER_IP, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = SignInForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        actor = actor_from_request()
        try:
            user = auth.check_password_step(actor, form.email.data, form.password.data)
        except auth.SignInThrottled as exc:
            minutes = _minutes(exc.retry_after)
            flash(ngettext("Too many failed sign-ins. Try again in %(num)d minute.",
                           "Too many failed sign-ins. Try again in %(num)d minutes.", minutes), "danger")
            status = 429
        except auth.SignInFailed:
            flash(_("The e-mail address or password is not correct."), "danger")
        else:
            start_fresh_session()
            login_user(user)
            auth.record_sign_in(actor_from_request(user), user)
            return redirect(safe_next_url(form.next.data, home_for(user)))
        form.password.data = ""
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@signed_in
def logout():
    auth.record_sign_out(actor_from_request(), current_user)
    logout_user()
    start_fresh_session()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/step-up", methods=["GET", "POST"])
@signed_in
def step_up():
    """Re-authentication before a sensitive action; returns to ``next`` afterwards."""
    form = StepUpForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        try:
            auth.confirm_identity(actor_from_request(), current_user, form.password.data)
        except auth.SignInThrottled as exc:
            minutes = _minutes(exc.retry_after)
            flash(ngettext("Too many failed attempts. Try again in %(num)d minute.",
                           "Too many failed attempts. Try again in %(num)d minutes.", minutes), "danger")
            status = 429
        except auth.SignInFailed:
            form.password.errors.append(_("This is not your password."))
            status = 400
        else:
            mark_stepped_up()
            return redirect(safe_next_url(form.next.data, home_for(current_user)))
    elif request.method == "POST":
        status = 400
    return render_template("auth/step_up.html", form=form), status


@bp.get("/account")
@signed_in
def account():
    return render_template("auth/account.html", user=current_user)


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def change_password():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            users.change_password(actor_from_request(), current_user, form.current_password.data,
                                  form.new_password.data, keep_session=session.key)
        except users.WrongPassword:
            form.current_password.errors.append(_("This is not your current password."))
            status = 400
        except WeakPassword as exc:
            form.new_password.errors.extend(exc.reasons)
            status = 400
        else:
            session.regenerate()
            flash(_("Your password has been changed. Your other sessions were signed out."), "success")
            return redirect(url_for("auth.account"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/change_password.html", form=form), status
