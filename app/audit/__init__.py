"""The security audit log: model, hash chain, the audit service, its pages and ``flask audit``.

Services: app.audit.services (the only writer of entries); reading: app.audit.queries,
export, integrity, retention. Pages: app.audit.routes; commands: app.audit.cli.
"""

from flask import Blueprint

bp = Blueprint("audit", __name__)


def init_app(app) -> None:
    """Install the audit log's session hooks (entries written in the transaction of their
    change; refused attempts kept through a rollback) and register the blueprint. Route
    modules load here, not when the package is imported, so models and services of this
    package import without pulling in views."""
    from app.audit import routes  # noqa: F401  (they add their routes to bp)
    from app.audit.integrity import audit_chain
    from app.audit.personal import install_load_hook
    from app.audit.services import install_session_hooks
    from app.observability.gauges import register_gauge

    install_session_hooks()
    install_load_hook()
    app.register_blueprint(bp)
    register_gauge("audit_chain", audit_chain)
