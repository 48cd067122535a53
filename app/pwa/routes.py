"""The manifest, the service worker and the offline page: public, identical for everyone."""

from __future__ import annotations

from flask import Response, abort, current_app, json, render_template, url_for
from flask_babel import gettext as _

from app.access_rules import public
from app.pwa import bp, precache

THEME_COLOR = "#212529"
BACKGROUND_COLOR = "#ffffff"
WORKER_TEMPLATE = "pwa/sw.js"


def _precache() -> precache.Precache:
    """Built once per process (the static files do not change under a running server); in debug,
    on every request, so an edited file installs a new worker at once."""
    app = current_app._get_current_object()
    cached = app.extensions.get("pwa_precache")
    if cached is None or app.debug:
        source = app.jinja_env.loader.get_source(app.jinja_env, WORKER_TEMPLATE)[0].encode()
        cached = app.extensions["pwa_precache"] = precache.build(app, source)
    return cached


@bp.get("/manifest.webmanifest")
@public
def manifest():
    """The web app manifest (application/manifest+json): what an installed portal looks like."""
    icons = [
        {"src": url_for("static", filename="img/icon-192.png"), "sizes": "192x192", "type": "image/png",
         "purpose": "any"},
        {"src": url_for("static", filename="img/icon-512.png"), "sizes": "512x512", "type": "image/png",
         "purpose": "any"},
        {"src": url_for("static", filename="img/icon-maskable-512.png"), "sizes": "512x512", "type": "image/png",
         "purpose": "maskable"},
    ]
    document = {
        "id": "/", "name": _("Saintara Admin"), "short_name": "Saintara",
        "description": _("Administration portal of the Saintara platform."),
        "start_url": "/", "scope": "/", "display": "standalone", "orientation": "any",
        "theme_color": THEME_COLOR, "background_color": BACKGROUND_COLOR, "icons": icons,
    }
    response = Response(json.dumps(document, ensure_ascii=False), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/sw.js")
@public
def service_worker():
    """The service worker, served from the root so that its scope is the whole portal."""
    cache = _precache()
    body = render_template(WORKER_TEMPLATE, version=cache.version, static_urls=list(cache.static_urls),
                           offline_urls=cache.offline_urls, default_locale=current_app.config["BABEL_DEFAULT_LOCALE"])
    response = Response(body, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    # Browsers check for a new worker on navigation; never let a stale copy delay an update.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/offline/<locale>")
@public
def offline(locale: str):
    """The page the worker shows for a navigation while the device is offline."""
    if locale not in current_app.config["LANGUAGES"]:
        abort(404)
    return precache.offline_page(locale)
