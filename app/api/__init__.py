"""The JSON API (/api/v1) with personal API tokens, its OpenAPI document, and the
portal pages around it: API tokens and rate limits.

Services: app.api.tokens (tokens: create, list, revoke, check) and app.api.cache (cached
reads and their invalidation). Endpoints: reads, decisions, audit_logs, privacy (data-subject
requests), consents (a customer's consent) (token auth in
app.api.auth, parameters in app.api.params); portal pages: app.api.pages.
"""

from flask import Blueprint, jsonify

from app.security.access import public

bp = Blueprint("api", __name__, url_prefix="/api/v1")
developer = Blueprint("developer", __name__)


@bp.get("/openapi.json")
@public
def openapi_document():
    """The OpenAPI 3 document of this API (no token needed)."""
    from app.api.openapi import document

    return jsonify(document())


def init_app(app) -> None:
    """Register both blueprints and subscribe the cached reads to the events that change them.
    The API authenticates by bearer token only, so it is exempt from CSRF (which guards
    cookie-authenticated forms)."""
    from app.api import audit_logs, auth, cache, consents, decisions, pages, privacy, reads  # noqa: F401  (they add their routes and hooks)
    from app.extensions import csrf

    cache.subscribe(app)
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(developer)
