"""The superadmin's analytics pages (/analytics/...): visitors and page views, top pages,
adoption per role, the account funnel, retention cohorts, and platform figures per institution.

They read only the rollup tables (app.analytics.figures, app.analytics.platform_rollup and
``analytics_daily``) through app.insights.queries; the period comes from app.insights.ranges;
each table downloads as CSV (app.insights.exports). docs/ANALYTICS.md, "The analytics pages".
"""

from flask import Blueprint

bp = Blueprint("insights", __name__, url_prefix="/analytics")


def init_app(app) -> None:
    """Register the pages (route modules load here, not when the package is imported)."""
    from app.insights import routes  # noqa: F401  (routes add their routes to bp)

    app.register_blueprint(bp)
