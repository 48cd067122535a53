"""Web Push notifications to the installed portal (docs/PWA.md).

People turn notifications on per device on their account page (:mod:`app.push.routes`, the
script ``static/js/push.js``); :mod:`app.push.services` stores the subscriptions (audited,
endpoint and secrets encrypted at rest). :mod:`app.push.triggers` subscribes to the domain
events that deserve a notification; the ``push.notify`` job (:mod:`app.push.jobs`) encrypts
each payload for its device and posts it (:mod:`app.push.sending`, pywebpush with VAPID).
"""

from flask import Blueprint, Flask

bp = Blueprint("push", __name__)


def init_app(app: Flask) -> None:
    """Register the routes, the job and the event subscribers."""
    from app.push import jobs, routes, triggers  # noqa: F401  (routes add to bp, jobs register themselves)

    app.register_blueprint(bp)
    triggers.subscribe_all(app)
