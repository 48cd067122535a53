"""Sign-in and sign-out, second factors (authenticator app, backup codes, passkeys),
step-up, the user's own sessions, and passwords set through e-mailed links.

Services: app.auth.services (signing in and out), app.auth.two_factor (an account's
second factors), app.auth.totp, app.auth.backup_codes, app.auth.passkeys, app.auth.policy
(the two-factor policy). Pages: routes, security_routes, password_routes, passkey_routes.
"""

from flask import Blueprint

bp = Blueprint("auth", __name__)


def init_app(app) -> None:
    """Register the blueprint. Its route modules load here, not when the package is
    imported, so models and services of this package import without pulling in views."""
    from app.auth import passkey_routes, password_routes, routes, security_routes  # noqa: F401  (they add their routes to bp)
    from app.auth.two_factor import admins_with_two_factor
    from app.observability.gauges import register_gauge

    app.register_blueprint(bp)
    register_gauge("admins_two_factor", admins_with_two_factor)
