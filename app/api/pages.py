"""Portal pages: one's own API tokens, a user's tokens (superadmins), and the rate limits."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.api import developer
from app.api import tokens as token_service
from app.api.forms import NewTokenForm, RevokeForm
from app.extensions import db
from app.security import ratelimit_docs
from app.security.access import Permission, requires, signed_in
from app.security.actor import actor_from_request
from app.security.stepup import step_up_required
from app.users.models import User


def _tokens_page(owner: User, form: NewTokenForm, status: int = 200):
    return render_template("api/tokens.html", owner=owner, own=owner.id == current_user.id,
                           tokens=token_service.tokens_of(owner), form=form, revoke_form=RevokeForm(),
                           may_hold=token_service.may_hold_tokens(owner)), status


def _create(owner: User):
    form = NewTokenForm()
    if not form.validate_on_submit():
        return _tokens_page(owner, form, 400)
    try:
        token, plain = token_service.create_token(actor_from_request(), owner, name=form.name.data,
                                                  scope=form.scope.data, days=form.days.data)
    except token_service.TokenError as exc:
        form.name.errors.append(exc.message)
        return _tokens_page(owner, form, 400)
    # Shown on this response only: never put in the session or a redirect.
    return render_template("api/token_created.html", owner=owner, token=token, plain=plain,
                           back=_back(owner)), 201


def _back(owner: User) -> str:
    return url_for("developer.tokens") if owner.id == current_user.id else url_for("developer.user_tokens",
                                                                                 user_id=owner.id)


def _revoke(owner: User, token_id: int):
    token = token_service.token_of(owner, token_id)
    if token is None or not RevokeForm().validate_on_submit():
        abort(404 if token is None else 400)
    if token_service.revoke_token(actor_from_request(), token):
        flash(_("Token %(prefix)s… revoked. Requests with it are refused from now on.", prefix=token.prefix), "success")
    else:
        flash(_("That token was already revoked."), "info")
    return redirect(_back(owner))


@developer.get("/account/api-tokens")
@requires(Permission.USE_API)
def tokens():
    """One's own API tokens: make one, see when each was last used, revoke."""
    return _tokens_page(current_user, NewTokenForm())


@developer.post("/account/api-tokens")
@requires(Permission.USE_API)
@step_up_required
def create_token():
    """Make a token for oneself (re-authentication first: it is a new credential)."""
    return _create(current_user)


@developer.post("/account/api-tokens/<int:token_id>/revoke")
@requires(Permission.USE_API)
def revoke_token(token_id: int):
    return _revoke(current_user, token_id)


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id) if user_id < 2**31 else None
    if user is None:
        abort(404)
    return user


@developer.get("/users/<int:user_id>/api-tokens")
@requires(Permission.MANAGE_API_TOKENS)
def user_tokens(user_id: int):
    """A user's tokens, for a superadmin: make one for them, or revoke."""
    return _tokens_page(_user_or_404(user_id), NewTokenForm())


@developer.post("/users/<int:user_id>/api-tokens")
@requires(Permission.MANAGE_API_TOKENS)
@step_up_required
def create_user_token(user_id: int):
    return _create(_user_or_404(user_id))


@developer.post("/users/<int:user_id>/api-tokens/<int:token_id>/revoke")
@requires(Permission.MANAGE_API_TOKENS)
def revoke_user_token(user_id: int, token_id: int):
    return _revoke(_user_or_404(user_id), token_id)


@developer.get("/rate-limits")
@signed_in
def rate_limits():
    """Every rate limit of the portal, from the same declarations as docs/API_RATE_LIMITS.md."""
    return render_template("api/rate_limits.html", requests=ratelimit_docs.request_rows(),
                           throttles=ratelimit_docs.throttle_rows())
