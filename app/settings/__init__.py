"""Typed system settings: declarations, the cached service, and the settings pages.

Services: app.settings.services (read cached, validate, change audited); declarations:
app.settings.definitions. Pages: app.settings.routes.
"""

from flask import Blueprint

bp = Blueprint("settings", __name__)


def init_app(app) -> None:
    """Register the blueprint. Its route modules load here, not when the package is
    imported, so models and services of this package import without pulling in views."""
    from app.settings import routes  # noqa: F401  (they add their routes to bp)

    app.register_blueprint(bp)
