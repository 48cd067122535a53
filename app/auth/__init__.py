"""Sign-in and sign-out, second factors (authenticator app, backup codes, passkeys),
step-up, the user's own sessions, and passwords set through e-mailed links."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import passkey_routes, password_routes, routes, security_routes  # noqa: E402,F401
