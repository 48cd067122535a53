"""Sign-in and sign-out, second factors (authenticator app, backup codes, passkeys),
step-up, the user's own sessions, and passwords set through e-mailed links."""

from flask import Blueprint

bp = Blueprint("auth", __name__)


def init_app(app) -> None:
    """Register the blueprint. Its route modules load here, not when the package is
    imported, so models and services of this package import without pulling in views."""
    from app.auth import passkey_routes, password_routes, routes, security_routes  # noqa: F401  (they add their routes to bp)

    app.register_blueprint(bp)

    from app.auth.two_factor import users_without_two_factor_reading
    from app.dashboard.status import register_status_provider

    register_status_provider(app, "users_without_two_factor", users_without_two_factor_reading)
