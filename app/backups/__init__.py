"""Database backups: create, verify, drill, restore, retention; local or S3 storage."""

from flask import Blueprint

bp = Blueprint("backups", __name__, url_prefix="/backups")


def init_app(app) -> None:
    """Register the blueprint, the background jobs and the dashboard's backup card. Routes and
    jobs load here, not when the package is imported, so services and models import without views."""
    from app.backups import jobs, routes  # noqa: F401  (routes add to bp; jobs register themselves)
    from app.backups.catalogue import dashboard_reading
    from app.dashboard.status import register_status_provider

    app.register_blueprint(bp)
    register_status_provider(app, "newest_verified_backup", dashboard_reading)
