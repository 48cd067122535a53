"""The security audit log: model, hash chain, the audit service, its pages and ``flask audit``."""

from flask import Blueprint

bp = Blueprint("audit", __name__)


def init_app(app) -> None:
    """Register the blueprint. Its route modules load here, not when the package is
    imported, so models and services of this package import without pulling in views."""
    from app.audit import routes  # noqa: F401  (they add their routes to bp)

    app.register_blueprint(bp)

    from app.audit.integrity import chain_status_reading
    from app.dashboard.status import register_status_provider

    register_status_provider(app, "audit_chain", chain_status_reading)
