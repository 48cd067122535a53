"""Privacy: data-subject requests, erasure (pseudonymisation and crypto-shredding), retention,
the records of processing, the privacy officer's pages and the ``flask privacy`` commands.

Services: app.privacy.services (register, extend, complete, refuse), verification (the
mailed confirmation link, checks recorded by staff), reminders (``flask privacy remind``),
fulfilment (what completing an erasure or access request runs), erasure (erasure, legal
holds; the keys, sealing and ledger it uses are in app.personal_data), retention, records
(GDPR Art. 30). Pages: routes, decision_routes, public_routes (the subject's confirmation
link), records_routes; commands: app.privacy.cli.
"""

from flask import Blueprint

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


def init_app(app) -> None:
    """Register the blueprint, and tell the erasure ledger how customers and accounts are
    pseudonymised (a restore re-applies it). Route modules load here, not when the package
    is imported, so models and services of this package import without pulling in views."""
    from app.privacy import decision_routes, erasure, public_routes, records_routes, routes  # noqa: F401

    app.register_blueprint(bp)
    erasure.register()
