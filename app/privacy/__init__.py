"""Privacy: data-subject requests, erasure (pseudonymisation and crypto-shredding), retention,
the records of processing, the privacy officer's pages and the ``flask privacy`` commands.

Services: app.privacy.services (register, extend, complete, refuse), verification (the
mailed confirmation link, checks recorded by staff), reminders (``flask privacy remind``),
fulfilment (what completing an erasure or access request runs), erasure (erasure, legal
holds; the keys, sealing and ledger it uses are in app.personal_data), retention, records
(GDPR Art. 30). Pages: routes, decision_routes, public_routes (the subject's confirmation
link), records_routes; the access export: export (the ZIP), exports (starting it, its file,
download, expiry), export_jobs, export_routes; commands: app.privacy.cli.
"""

from flask import Blueprint, Flask

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


def init_app(app: Flask) -> None:
    """Register the blueprint; tell the erasure ledger how customers and accounts are
    pseudonymised (a restore re-applies it); register the export's job and wording, and give
    the export the consent store's history. Route modules load here, not when the package is
    imported, so models and services of this package import without pulling in views."""
    from app.consent import services as consent
    from app.jobs.progress import describe_with
    from app.privacy import (  # noqa: F401  (route modules add to bp)
        decision_routes,
        erasure,
        export,
        export_jobs,
        export_routes,
        exports,
        public_routes,
        records_routes,
        routes,
    )

    app.register_blueprint(bp)
    erasure.register()
    export.use_consent_history(consent.history)
    describe_with(exports.JOB, export_jobs.as_json)
    app.add_template_global(exports.user_may_export, "may_export_personal_data")
