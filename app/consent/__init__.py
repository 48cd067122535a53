"""The consent store: versioned notices per purpose, consent given and withdrawn, and its enforcement.

Services: app.consent.services (``allows``, ``record``, ``choices``, ``history``) and
app.consent.notices (publishing versions). Pages: app.consent.routes (the account page's
choices, notices for superadmins, a customer's consent for staff). The first feature that
processes on consent, the decision e-mail, is app.consent.notifications.
"""

from flask import Blueprint

bp = Blueprint("consent", __name__)


def init_app(app) -> None:
    """Register the blueprint and the decision e-mail. Route modules load here, not when the
    package is imported, so models and services import without pulling in views."""
    from app import events
    from app.consent import routes  # noqa: F401  (they add their routes to bp)
    from app.consent.notifications import notify_transaction_decided

    app.register_blueprint(bp)
    events.subscribe(app, events.transaction_decided, notify_transaction_decided)
