"""User accounts: the model and services, user administration, sessions, invitations,
support impersonation, and the ``flask users`` commands.

Services: app.users.services (accounts: create, look up, passwords, bookkeeping),
app.users.administration (who may manage which account; audited edits), invitations,
impersonation and account_sessions. Pages: routes, security_routes (request glue for
impersonation: impersonation_guard); commands: app.users.cli.
"""

from flask import Blueprint

bp = Blueprint("users", __name__)


def init_app(app) -> None:
    """Register the blueprint. Its route modules load here, not when the package is
    imported, so models and services of this package import without pulling in views."""
    from app.personal_data import vault
    from app.users import impersonation_guard, routes, security_routes  # noqa: F401  (routes add to bp)
    from app.users.services import ids_with_email

    vault.on_find("user", ids_with_email)

    app.register_blueprint(bp)
    app.before_request(impersonation_guard.enforce)
    app.context_processor(impersonation_guard.banner_context)
