"""The installable portal: web app manifest, service worker and offline page (docs/PWA.md).

The service worker (``/sw.js``, scope ``/``) precaches the static files and the offline page,
nothing else: pages and API answers of signed-in people are never stored on the device (they
stay ``Cache-Control: no-store``). Its precache list and version come from the files under
``static/`` (:mod:`app.pwa.precache`), so a changed file installs a new worker that drops
the old cache.
"""

from flask import Blueprint, Flask

bp = Blueprint("pwa", __name__)


def init_app(app: Flask) -> None:
    """Register the manifest, service worker and offline routes; ``pwa_manifest_url`` for templates."""
    from app.pwa import routes  # noqa: F401  (routes add to bp)

    app.register_blueprint(bp)
