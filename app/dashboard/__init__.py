"""The staff dashboard: figures that need attention, scoped to the viewer, and status cards.

Services: app.dashboard.services (the figures), app.dashboard.cache (cached aggregates and
their invalidation), app.dashboard.status (cards filled by other features). Page:
app.dashboard.routes.
"""

from flask import Blueprint

bp = Blueprint("dashboard", __name__)


def init_app(app) -> None:
    """Register the blueprint, subscribe the figures' cache to the events that change them,
    and plug the features' readings into the status cards. Route modules load here, not
    when the package is imported, so models and services import without pulling in views."""
    from app.dashboard import cache, routes, status  # noqa: F401  (routes add their routes to bp)

    app.register_blueprint(bp)
    cache.subscribe(app)
    status.register_providers(app)
