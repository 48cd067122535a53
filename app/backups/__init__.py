"""Database backups: create, verify, drill, restore, retention; local or S3 storage.

Services: app.backups.services (write and check backups), app.backups.procedures (the
operations as the CLI and jobs run them), app.backups.restore, app.backups.catalogue.
Page: app.backups.routes; commands: app.backups.cli; background jobs: app.backups.jobs.
"""

from flask import Blueprint

bp = Blueprint("backups", __name__, url_prefix="/backups")


def init_app(app) -> None:
    """Register the blueprint and the background jobs. Routes and
    jobs load here, not when the package is imported, so services and models import without views."""
    from app import events
    from app.backups import jobs, routes  # noqa: F401  (routes add to bp; jobs register themselves)
    from app.backups.catalogue import last_restore_drill, newest_verified_backup
    from app.backups.erasures import on_person_erased
    from app.backups.jobs import JOB_PREFIX, may_watch
    from app.backups.messages import as_json
    from app.jobs.progress import describe_with
    from app.observability.gauges import register_gauge

    app.register_blueprint(bp)
    # GET /jobs/<id> for backup jobs: their wording, and every holder of the backups permission
    # watches them (another superadmin's, and system ones), as the backups page shows them all.
    describe_with(JOB_PREFIX, as_json, watchers=may_watch)
    register_gauge("backup_age", newest_verified_backup)
    register_gauge("restore_drill", last_restore_drill)
    events.subscribe(app, events.person_erased, on_person_erased)  # a copy of the ledger beside the backups
