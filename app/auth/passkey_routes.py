"""The JSON endpoints that static/js/passkeys.js calls: options, then the browser's answer.

Three ceremonies: sign-in (a pending sign-in's second factor), step-up, and
registration. Each options call keeps a one-time challenge in the session; the
answer must come back within two minutes. Errors are JSON with a stable code.
"""

from __future__ import annotations

from flask import Response, flash, jsonify, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import bp, flow, passkeys
from app.auth import services as auth
from app.auth.security_routes import NEW_CODES_KEY
from app.inputs import safe_next_url
from app.security.access import public, signed_in
from app.security.actor import actor_from_request
from app.security.stepup import mark_stepped_up, stepped_up_recently


def _error(code: str, message: str, status: int = 400):
    return jsonify({"error": {"code": code, "message": message}}), status


def _options(purpose: str, user, make) -> Response:
    options_json, challenge = make(user, flow.relying_party())
    flow.keep_challenge(purpose, challenge, user.id)
    return Response(options_json, mimetype="application/json")


def _answer(purpose: str, user) -> tuple[dict | None, bytes | None, tuple | None]:
    """The browser's answer and the challenge it answers, or an error response to return."""
    body = request.get_json(silent=True)
    challenge = flow.take_challenge(purpose, user.id)
    if challenge is None:
        return None, None, _error("challenge_expired", _("The passkey request expired. Try again."))
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        return None, None, _error("bad_request", _("The browser sent no passkey answer."))
    return body, challenge, None


def _rejected():
    return _error("passkey_rejected", _("The passkey was not accepted. Use a passkey registered to this account."))


# -- sign-in ------------------------------------------------------------------------

@bp.post("/login/passkey/options")
@public
def passkey_login_options():
    user = flow.pending_user()
    if user is None:
        return _error("no_pending_sign_in", _("Sign in with your password first."))
    return _options("sign-in", user, passkeys.authentication_options)


@bp.post("/login/passkey/verify")
@public
def passkey_login_verify():
    user = flow.pending_user()
    if user is None:
        return _error("no_pending_sign_in", _("Sign in with your password first."))
    body, challenge, error = _answer("sign-in", user)
    if error:
        return error
    try:
        passkeys.verify_assertion(actor_from_request(user), user, flow.relying_party(), body["credential"],
                                  challenge, purpose="sign-in")
    except passkeys.PasskeyRejected:
        return _rejected()
    response = flow.complete_sign_in(user, flow.pending_next(), "passkey")
    return jsonify({"redirect": response.location})


# -- step-up --------------------------------------------------------------------------

@bp.post("/step-up/passkey/options")
@signed_in
def step_up_passkey_options():
    if not passkeys.passkeys_of(current_user):
        return _error("no_passkey", _("This account has no passkey."))
    return _options("step-up", current_user, passkeys.authentication_options)


@bp.post("/step-up/passkey/verify")
@signed_in
def step_up_passkey_verify():
    body, challenge, error = _answer("step-up", current_user)
    if error:
        return error
    try:
        passkeys.verify_assertion(actor_from_request(), current_user, flow.relying_party(), body["credential"],
                                  challenge, purpose="step-up")
    except passkeys.PasskeyRejected:
        return _rejected()
    auth.record_step_up(actor_from_request(), current_user, "passkey")
    mark_stepped_up()
    return jsonify({"redirect": safe_next_url(str(body.get("next") or ""), flow.home_for(current_user))})


# -- registration ---------------------------------------------------------------------

@bp.post("/account/passkeys/options")
@signed_in
def passkey_register_options():
    if not stepped_up_recently():
        return _error("step_up_required", _("Confirm it is you first: reload the page."), 403)
    return _options("register", current_user, passkeys.registration_options)


@bp.post("/account/passkeys")
@signed_in
def passkey_register():
    if not stepped_up_recently():
        return _error("step_up_required", _("Confirm it is you first: reload the page."), 403)
    body, challenge, error = _answer("register", current_user)
    if error:
        return error
    name = str(body.get("name") or "").strip()
    if not name:
        return _error("name_required", _("Give the passkey a name."))
    try:
        passkey, codes = passkeys.register(actor_from_request(), current_user, flow.relying_party(),
                                           body["credential"], challenge, name)
    except passkeys.PasskeyRejected:
        return _error("passkey_rejected", _("The passkey could not be registered. Try again."))
    flash(_("The passkey %(name)s was registered.", name=passkey.name), "success")
    if codes:
        session[NEW_CODES_KEY] = codes
        return jsonify({"redirect": url_for("auth.backup_codes_new")})
    return jsonify({"redirect": url_for("auth.security"), "name": passkey.name})
