"""The jump box: go straight to a user, customer, institution, transaction or audit entry.

Services: app.search.services (matches within the actor's scope); the typed query:
app.search.query. Pages: app.search.routes.
"""

from flask import Blueprint

bp = Blueprint("search", __name__)


def init_app(app) -> None:
    """Register the blueprint. Its route module loads here, not when the package is
    imported, so the service imports without pulling in views."""
    from app.search import routes  # noqa: F401  (it adds its routes to bp)

    app.register_blueprint(bp)
