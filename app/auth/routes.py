"""Sign-in (password, then the second factor), sign-out, step-up and the account page."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, logout_user

from app import inputs
from app.auth import backup_codes, bp, flow, totp, two_factor
from app.auth import services as auth
from app.auth.forms import BackupCodeForm, ChangePasswordForm, SignInForm, StepUpCodeForm, StepUpForm, TotpCodeForm
from app.consent import services as consent
from app.consent.forms import OwnConsentForm
from app.database import utcnow
from app.extensions import db
from app.formatting import when_text
from app.inputs import safe_next_url
from app.push import services as push
from app.security.access import public, signed_in
from app.security.actor import actor_from_request
from app.security.headers import secure_cookies_over_plain_http
from app.security.limiting import refused_by_throttle
from app.security.passwords import WeakPassword
from app.security.stepup import mark_stepped_up
from app.users import impersonation, impersonation_guard
from app.users import services as users
from app.users.models import User

# Kept for other modules that imported these helpers from here.
start_fresh_session = flow.start_fresh_session
home_for = flow.home_for


@bp.get("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.login"))


def _minutes(seconds: int) -> int:
    return max(1, -(-seconds // 60))


def _until(retry_after: int) -> str:
    """When a throttle lets the next attempt through, in the display time zone."""
    return when_text(utcnow() + timedelta(seconds=retry_after), "short")


def _flash_throttled(retry_after: int) -> None:
    """Say how long a throttle refuses attempts, and put the same wait in the 429's Retry-After."""
    refused_by_throttle(retry_after)
    minutes = _minutes(retry_after)
    flash(ngettext("Too many failed attempts. Try again in %(num)d minute (at %(time)s).",
                   "Too many failed attempts. Try again in %(num)d minutes (at %(time)s).", minutes,
                   time=_until(retry_after)), "danger")


@bp.route("/login", methods=["GET", "POST"])
@public
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
            # The account (or address) is locked out: Retry-After is the lockout's end, not the
            # per-address request limit's window.
            refused_by_throttle(exc.retry_after)
            minutes = _minutes(exc.retry_after)
            flash(ngettext("Too many failed sign-ins. Try again in %(num)d minute (at %(time)s).",
                           "Too many failed sign-ins. Try again in %(num)d minutes (at %(time)s).", minutes,
                           time=_until(exc.retry_after)), "danger")
            status = 429
        except auth.SignInFailed:
            flash(_("The e-mail address or password is not correct."), "danger")
        else:
            if two_factor.has_second_factor(user):
                flow.begin_pending(user, form.next.data)
                return redirect(url_for("auth.two_factor_challenge"))
            return flow.complete_sign_in(user, form.next.data)
        form.password.data = ""
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, needs_https=secure_cookies_over_plain_http()), status


def _challenge_page(user: User, totp_form: TotpCodeForm, backup_form: BackupCodeForm, status: int = 200):
    return render_template("auth/two_factor_challenge.html", user=user, form=totp_form, backup_form=backup_form,
                           factors=two_factor.summary(user)), status


def _pending_or_restart():
    if current_user.is_authenticated:
        return None, redirect(home_for(current_user))
    user = flow.pending_user()
    if user is None:
        flash(_("Sign in with your password first. A sign-in waits ten minutes for its second step."), "info")
        return None, redirect(url_for("auth.login"))
    return user, None


@bp.get("/login/two-factor")
@public
def two_factor_challenge():
    """The second step of sign-in: a code from the authenticator app (or a passkey, or a backup code)."""
    user, elsewhere = _pending_or_restart()
    if elsewhere:
        return elsewhere
    return _challenge_page(user, TotpCodeForm(), BackupCodeForm(prefix="backup"))


@bp.post("/login/two-factor")
@public
def two_factor_verify():
    user, elsewhere = _pending_or_restart()
    if elsewhere:
        return elsewhere
    form, backup_form = TotpCodeForm(), BackupCodeForm(prefix="backup", formdata=None)
    status = 400
    if form.validate_on_submit():
        status = 200
        try:
            totp.verify_totp(actor_from_request(user), user, form.code.data, purpose="sign-in")
        except two_factor.SecondFactorThrottled as exc:
            _flash_throttled(exc.retry_after)
            status = 429
        except two_factor.SecondFactorLocked:
            flash(_("Codes from your authenticator app are locked after too many wrong codes. Use a backup code "
                    "or a passkey, or ask a superadmin to unlock them."), "danger")
        except two_factor.CodeReplayed:
            flash(_("This code has already been used. Wait for the next code from your app."), "danger")
        except (two_factor.CodeRejected, two_factor.NotEnrolled):
            form.code.errors.append(_("This code is not correct. Check the time on your phone and try again."))
        else:
            return flow.complete_sign_in(user, flow.pending_next(), "totp")
        form.code.data = ""
    return _challenge_page(user, form, backup_form, status)


@bp.post("/login/two-factor/backup")
@public
def two_factor_backup():
    """Sign-in with a backup code instead of the app (also clears a lock on app codes)."""
    user, elsewhere = _pending_or_restart()
    if elsewhere:
        return elsewhere
    form, backup_form = TotpCodeForm(formdata=None), BackupCodeForm(prefix="backup")
    status = 400
    if backup_form.validate_on_submit():
        status = 200
        try:
            left = backup_codes.use_backup_code(actor_from_request(user), user, backup_form.code.data,
                                              purpose="sign-in")
        except two_factor.SecondFactorThrottled as exc:
            _flash_throttled(exc.retry_after)
            status = 429
        except two_factor.CodeRejected:
            backup_form.code.errors.append(_("This backup code is not correct or has already been used."))
        else:
            response = flow.complete_sign_in(user, flow.pending_next(), "backup_code")
            flash(ngettext("You signed in with a backup code; %(num)d code is left. Generate a new set on your "
                           "security page.",
                           "You signed in with a backup code; %(num)d codes are left. Generate a new set on your "
                           "security page.", left), "warning")
            return response
        backup_form.code.data = ""
    return _challenge_page(user, form, backup_form, status)


@bp.post("/logout")
@signed_in
def logout():
    live = impersonation_guard.current()
    user = current_user
    if live:  # signing out ends the impersonation first, and signs the impersonator out
        impersonation_guard.finish("signed out")
        user = db.session.get(User, live["impersonator_id"])
    auth.record_sign_out(actor_from_request(user), user)
    logout_user()
    start_fresh_session()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


def _step_up_with_code(form: StepUpCodeForm, factors) -> str | None:
    """Check an app or backup code; returns the method used, or None after adding an error."""
    user, actor = current_user, actor_from_request()
    code = form.code.data.strip()
    digits = "".join(code.split())
    try:
        if factors.has_totp and inputs.digits(digits) and len(digits) == totp.TOTP_DIGITS:
            totp.verify_totp(actor, user, digits, purpose="step-up")
            return "authenticator app"
        backup_codes.use_backup_code(actor, user, code, purpose="step-up")
        return "backup code"
    except two_factor.SecondFactorThrottled as exc:
        _flash_throttled(exc.retry_after)
    except two_factor.SecondFactorLocked:
        form.code.errors.append(_("Codes from your authenticator app are locked. Use a backup code or a passkey."))
    except two_factor.CodeReplayed:
        form.code.errors.append(_("This code has already been used. Wait for the next code from your app."))
    except (two_factor.CodeRejected, two_factor.NotEnrolled):
        form.code.errors.append(_("This code is not correct."))
    return None


@bp.route("/step-up", methods=["GET", "POST"])
@signed_in
def step_up():
    """Re-authentication before a sensitive action; returns to ``next`` afterwards.

    Accounts with a second factor confirm with it (app code, backup code or passkey);
    accounts without one re-enter their password.
    """
    factors = two_factor.summary(current_user)
    next_url = request.args.get("next", "")
    if factors.enabled:
        form = StepUpCodeForm(next=next_url)
        status = 200
        if form.validate_on_submit():
            method = _step_up_with_code(form, factors)
            if method:
                auth.record_step_up(actor_from_request(), current_user, method)
                mark_stepped_up()
                return redirect(safe_next_url(form.next.data, home_for(current_user)))
            status = 429 if not form.code.errors else 200
        elif request.method == "POST":
            status = 400
        return render_template("auth/step_up.html", form=form, factors=factors), status

    form = StepUpForm(next=next_url)
    status = 200
    if form.validate_on_submit():
        try:
            auth.confirm_identity(actor_from_request(), current_user, form.password.data)
        except auth.SignInThrottled as exc:
            _flash_throttled(exc.retry_after)
            status = 429
        except auth.SignInFailed:
            form.password.errors.append(_("This is not your password."))
            status = 400
        else:
            mark_stepped_up()
            return redirect(safe_next_url(form.next.data, home_for(current_user)))
    elif request.method == "POST":
        status = 400
    return render_template("auth/step_up.html", form=form, factors=factors), status


@bp.get("/account")
@signed_in
def account():
    return render_template("auth/account.html", user=current_user, factors=two_factor.summary(current_user),
                           support_visits=impersonation.history_for(current_user),
                           consent_choices=consent.choices(consent.subject_of_user(current_user)),
                           consent_form=OwnConsentForm(formdata=None),
                           push_devices=push.devices_of(current_user), push_key=push.public_key())


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
