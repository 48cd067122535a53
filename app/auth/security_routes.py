"""The user's own security pages: authenticator app, backup codes, passkeys, sessions,
and the two-factor policy guard that runs before every request."""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from app.auth import bp, flow, passkeys, policy, two_factor
from app.auth.forms import ConfirmForm, PasskeyNameForm, RegenerateBackupCodesForm, TotpCodeForm
from app.security.access import access_rule, signed_in
from app.security.actor import actor_from_request
from app.security.limiting import refused_by_throttle
from app.security.stepup import step_up_required, stepped_up_recently
from app.security.urls import safe_next_url
from app.users import account_sessions, impersonation_guard

NEW_CODES_KEY = "new_backup_codes"
PENDING_TOTP_KEY = "pending_totp"  # the authenticator-app secret on offer (two_factor.PendingSecret)

# What a user who is past the grace period may still open: enrolment and the way out.
ALLOWED_WHILE_OVERDUE = frozenset({
    "auth.two_factor_required", "auth.totp_setup", "auth.passkey_new", "auth.passkey_register_options",
    "auth.passkey_register", "auth.backup_codes_new", "auth.step_up", "auth.step_up_passkey_options",
    "auth.step_up_passkey_verify", "auth.logout", "i18n.switch_language", "users.stop_impersonation",
})


@bp.before_app_request
def enforce_two_factor_policy():
    """Past the grace period, a user without a second factor sees only enrolment."""
    if request.endpoint is None or not current_user.is_authenticated or impersonation_guard.current():
        return None
    rule = access_rule(current_app.view_functions.get(request.endpoint))
    if rule is None or rule.kind == "public" or request.endpoint in ALLOWED_WHILE_OVERDUE:
        return None
    status = policy.evaluate(current_user)
    g.two_factor_policy = status
    if status.blocks_portal:
        flash(_("Your role requires two-factor sign-in and the grace period is over. Set up a second factor "
                "to continue."), "warning")
        return redirect(url_for("auth.two_factor_required"))
    return None


@bp.app_context_processor
def _policy_banner():
    return {"two_factor_policy": g.get("two_factor_policy")}


@bp.get("/account/security")
@signed_in
def security():
    return render_template("auth/security.html", factors=two_factor.summary(current_user),
                           passkeys=passkeys.passkeys_of(current_user), status=policy.evaluate(current_user),
                           low=two_factor.LOW_BACKUP_CODES, confirm=ConfirmForm())


@bp.get("/account/two-factor/required")
@signed_in
def two_factor_required():
    """Where sign-in leads a user whose role requires a second factor they have not set up."""
    status = policy.evaluate(current_user)
    target = safe_next_url(request.args.get("next"), flow.home_for(current_user))
    if not status.in_grace and not status.blocks_portal:
        return redirect(target)
    return render_template("auth/two_factor_required.html", status=status, next_url=target)


def _show_new_codes(codes: list[str] | None, fallback: str):
    if codes:
        session[NEW_CODES_KEY] = codes
        return redirect(url_for("auth.backup_codes_new"))
    return redirect(fallback)


@bp.route("/account/two-factor/app", methods=["GET", "POST"])
@signed_in
@step_up_required
def totp_setup():
    """Enrol an authenticator app: scan the QR code (or type the key), then confirm a code.

    The secret on offer waits in the session (encrypted) until a correct code stores it: a GET
    of this page changes nothing in the database."""
    if two_factor.has_totp(current_user):
        flash(_("An authenticator app is already set up. Remove it first to set up another."), "info")
        return redirect(url_for("auth.security"))
    kept = two_factor.PendingSecret.from_session(session.get(PENDING_TOTP_KEY), current_user)
    pending = two_factor.begin_totp_enrolment(current_user, kept)
    if pending is not kept:
        session[PENDING_TOTP_KEY] = pending.to_session()
    form = TotpCodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = two_factor.confirm_totp_enrolment(actor_from_request(), current_user, kept, form.code.data)
        except two_factor.SecondFactorThrottled as exc:
            refused_by_throttle(exc.retry_after)
            flash(ngettext("Too many wrong codes. Try again in %(num)d minute.",
                           "Too many wrong codes. Try again in %(num)d minutes.", max(1, exc.retry_after // 60)),
                  "danger")
            status = 429
        except two_factor.NotEnrolled:
            form.code.errors.append(_("The key on this page had expired and a new one is shown. Scan the new QR "
                                      "code (or type the new key), then enter the code the app shows."))
        except two_factor.CodeRejected:
            form.code.errors.append(_("This code is not correct. Check the time on your phone and try again."))
        else:
            session.pop(PENDING_TOTP_KEY, None)
            flash(_("Your authenticator app is set up. From now on, sign-in asks for a code from it."), "success")
            return _show_new_codes(codes, url_for("auth.security"))
        form.code.data = ""
    elif request.method == "POST":
        status = 400
    uri = two_factor.provisioning_uri(pending, current_user)
    return render_template("auth/totp_setup.html", form=form, qr_svg=two_factor.qr_code_svg(uri),
                           secret=two_factor.grouped_secret(pending.secret)), status


@bp.post("/account/two-factor/app/remove")
@signed_in
@step_up_required
def totp_remove():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        two_factor.remove_totp(actor_from_request(), current_user)
    except two_factor.WouldLeaveNoSecondFactor:
        flash(_("Your role requires a second factor: add a passkey before removing the authenticator app."), "danger")
    except two_factor.NotEnrolled:
        flash(_("No authenticator app is set up."), "info")
    else:
        flash(_("The authenticator app was removed."), "success")
    return redirect(url_for("auth.security"))


@bp.get("/account/two-factor/backup-codes/new")
@signed_in
def backup_codes_new():
    """Show a freshly made set of backup codes, once."""
    codes = session.pop(NEW_CODES_KEY, None)
    if not codes:
        return redirect(url_for("auth.security"))
    return render_template("auth/backup_codes.html", codes=codes)


@bp.route("/account/two-factor/backup-codes", methods=["GET", "POST"])
@signed_in
def backup_codes_regenerate():
    """New backup codes (the old ones stop working): password and a current code required."""
    factors = two_factor.summary(current_user)
    if not factors.enabled:
        flash(_("Set up an authenticator app or a passkey first; backup codes come with it."), "info")
        return redirect(url_for("auth.security"))
    form = RegenerateBackupCodesForm()
    status = 200
    if form.validate_on_submit():
        status = 400
        try:
            codes = two_factor.regenerate_backup_codes(
                actor_from_request(), current_user, form.password.data, form.code.data,
                stepped_up_with_passkey=stepped_up_recently())
        except two_factor.WrongPassword:
            form.password.errors.append(_("This is not your password."))
        except two_factor.SecondFactorThrottled as exc:
            refused_by_throttle(exc.retry_after)
            flash(ngettext("Too many wrong codes. Try again in %(num)d minute.",
                           "Too many wrong codes. Try again in %(num)d minutes.", max(1, exc.retry_after // 60)),
                  "danger")
            status = 429
        except two_factor.SecondFactorLocked:
            status = 200  # the lock itself must be kept
            form.code.errors.append(_("Codes from your authenticator app are locked. Use a backup code or a passkey."))
        except two_factor.CodeReplayed:
            form.code.errors.append(_("This code has already been used. Wait for the next code from your app."))
        except two_factor.CodeRejected:
            status = 200
            if factors.has_totp:
                form.code.errors.append(_("This code is not correct."))
            else:
                flash(_("Confirm with your passkey first, then generate the new codes."), "warning")
        else:
            flash(_("New backup codes were generated. The old ones no longer work."), "success")
            return _show_new_codes(codes, url_for("auth.security"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/backup_codes_regenerate.html", form=form, factors=factors), status


@bp.get("/account/passkeys/new")
@signed_in
@step_up_required
def passkey_new():
    """The page that registers a passkey (the browser does the work: static/js/passkeys.js)."""
    return render_template("auth/passkey_new.html", form=PasskeyNameForm())


@bp.post("/account/passkeys/<int:passkey_id>/remove")
@signed_in
@step_up_required
def passkey_remove(passkey_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        removed = passkeys.remove(actor_from_request(), current_user, passkey_id)
    except LookupError:
        abort(404)
    except two_factor.WouldLeaveNoSecondFactor:
        flash(_("Your role requires a second factor: this is your last one, so it cannot be removed."), "danger")
    else:
        flash(_("The passkey %(name)s was removed.", name=removed.name), "success")
    return redirect(url_for("auth.security"))


@bp.get("/account/sessions")
@signed_in
def sessions():
    return render_template("auth/sessions.html",
                           sessions=account_sessions.list_sessions(current_user, session.key), form=ConfirmForm())


@bp.post("/account/sessions/end")
@signed_in
def end_sessions():
    """End one of the user's other sessions, or all of them but this one."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    actor = actor_from_request()
    if request.form.get("scope") == "others":
        ended = account_sessions.end_all_sessions(actor, current_user, except_key=session.key)
        flash(ngettext("%(num)d other session was ended.", "%(num)d other sessions were ended.", ended), "success")
    else:
        key = request.form.get("key", "")
        if key and key == session.key:
            flash(_("This is the session you are using: sign out to end it."), "info")
        elif account_sessions.end_session(actor, current_user, key):
            flash(_("The session was ended; that browser is signed out."), "success")
        else:
            flash(_("That session had already ended."), "info")
    return redirect(url_for("auth.sessions"))
