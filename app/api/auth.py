"""Bearer-token authentication for /api/v1, and its JSON errors with stable codes.

Every API view declares ``@api_token(scope, *permissions)`` (app.security.access). This
hook, run for the API blueprint only, finds the token behind ``Authorization: Bearer
...``, refuses unknown, expired and revoked tokens (and counts those refusals per
address: app.security.ratelimits.API_AUTH_FAILURES), then checks the token's scope and
its user's permissions. Sessions play no part: the API never reads the session cookie
(app.security.sessions) and is exempt from CSRF for that reason alone.
"""

from __future__ import annotations

from flask import current_app, g, jsonify, request
from flask_babel import gettext as _

from app.api import bp, tokens
from app.api.models import TokenScope
from app.auth import policy
from app.security.access import access_rule, has_permission
from app.security.ratelimits import API_AUTH_FAILURES


class ApiError(Exception):
    """An API refusal: HTTP status, a stable code, a message, and optional details."""

    def __init__(self, http_status: int, code: str, message, **details):
        super().__init__(code)
        self.status, self.code, self.message, self.details = http_status, code, message, details


def error_response(http_status: int, code: str, message, headers: dict | None = None, **details):
    body = {"error": {"code": code, "message": str(message), "request_id": g.get("request_id"), **details}}
    response = jsonify(body)
    response.status_code = http_status
    response.headers.update(headers or {})
    return response


def handle_api_error(exc: ApiError):
    headers = {"WWW-Authenticate": 'Bearer realm="api"'} if exc.status == 401 else {}
    if exc.status == 429 and "retry_after" in exc.details:
        headers["Retry-After"] = str(exc.details["retry_after"])
    return error_response(exc.status, exc.code, exc.message, headers, **exc.details)


def _bearer() -> str | None:
    scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def authenticate_request() -> None:
    """Before every API view: the token, its scope and its user's permissions."""
    rule = access_rule(current_app.view_functions.get(request.endpoint or ""))
    if rule is None or rule.kind != "token":
        return  # the OpenAPI document (public), or no route at all (404)
    plain = _bearer()
    if plain is None:
        raise ApiError(401, "token_missing", _("Send an API token: Authorization: Bearer <token>."))
    address = request.remote_addr or "unknown"
    try:
        token = tokens.authenticate(plain, ip=request.remote_addr)
    except tokens.InvalidToken as exc:
        # A valid token always passes (others' failures never lock a client out); an address
        # that keeps sending invalid ones gets 429 instead of 401 until its failures age out.
        wait = API_AUTH_FAILURES.retry_after(address)
        if wait:
            raise ApiError(429, "too_many_failures",
                           _("Too many requests with invalid tokens from this address. Try again later."),
                           retry_after=wait) from None
        API_AUTH_FAILURES.record_failure(address)
        if exc.reason == "expired":
            raise ApiError(401, "token_expired", _("This API token has expired. Make a new one.")) from None
        raise ApiError(401, "invalid_token", _("This API token is not valid.")) from None
    g._login_user = token.user  # what current_user and actor_from_request() see from here on
    g.api_token = token
    if policy.evaluate(token.user, start_clock=False).blocks_portal:
        raise ApiError(403, "two_factor_required", _("The token's user must set up two-factor sign-in first: "
                                                     "their role requires it and the grace period is over."))
    if not token.scope_enum.allows(TokenScope(rule.scope)):
        raise ApiError(403, "insufficient_scope", _("This token may only read. Make a token with write access."),
                       required_scope=rule.scope)
    if not all(has_permission(token.user, p) for p in rule.permissions):
        raise ApiError(403, "forbidden", _("The token's user is not allowed to do this."))


bp.before_request(authenticate_request)
bp.register_error_handler(ApiError, handle_api_error)
