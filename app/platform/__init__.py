"""The platform's domain: institutions, customers, transactions and approvals.

Services: app.platform.services (one module per kind of row: institutions, customers,
decisions, imports, queues, facets). List declarations: app.platform.lists (pages and API).
Pages: app.platform.routes; commands: app.platform.cli.
"""

from flask import Blueprint

bp = Blueprint("platform", __name__)


def init_app(app) -> None:
    """Register the blueprint. Its route modules load here, not when the package is
    imported, so models and services of this package import without pulling in views."""
    from app.observability.gauges import register_gauge
    from app.platform import routes  # noqa: F401  (they add their routes to bp)
    from app.platform.services.decisions import pending_approvals

    app.register_blueprint(bp)
    register_gauge("pending", pending_approvals)
