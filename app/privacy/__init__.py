"""Privacy: data-subject requests, the records of processing, and the privacy officer's pages.

Services: app.privacy.services (register, extend, complete, refuse), verification (the
mailed confirmation link, checks recorded by staff), reminders (``flask privacy remind``),
fulfilment (what completing an erasure or access request runs), records (GDPR Art. 30).
Pages: routes, decision_routes, public_routes (the subject's confirmation link),
records_routes; commands: app.privacy.cli.
"""

from flask import Blueprint

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


def init_app(app) -> None:
    """Register the blueprint. Its route modules load here, not when the package is
    imported, so models and services of this package import without pulling in views."""
    from app.privacy import decision_routes, public_routes, records_routes, routes  # noqa: F401  (they add to bp)

    app.register_blueprint(bp)
