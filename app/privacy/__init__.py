"""Privacy: erasure of customers and accounts (pseudonymisation and crypto-shredding), the
access and portability export of one person, and the ``flask privacy`` commands.

Services: app.privacy.erasure (erasure, legal holds); app.privacy.export (the export's ZIP)
and app.privacy.exports (starting it, its job's file, download, expiry). The keys, sealing
and the ledger they use are in app.personal_data. Pages: app.privacy.export_routes; job:
app.privacy.export_jobs; commands: app.privacy.cli.
"""

from flask import Blueprint, Flask

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


def init_app(app: Flask) -> None:
    """Tell the erasure ledger how customers and accounts are pseudonymised (a restore
    re-applies it); register the export pages, its job and its wording, and give the export
    the consent store's history."""
    from app.consent import services as consent
    from app.jobs.progress import describe_with
    from app.privacy import erasure, export, export_jobs, export_routes, exports  # noqa: F401  (routes add to bp)

    erasure.register()
    export.use_consent_history(consent.history)
    describe_with(exports.JOB, export_jobs.as_json)
    app.add_template_global(exports.user_may_export, "may_export_personal_data")
    app.register_blueprint(bp)
