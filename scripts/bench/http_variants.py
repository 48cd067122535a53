"""WSGI apps for scripts/bench/http.py, served by gunicorn (``scripts.bench.http_variants:app``).

``BENCH_VARIANT`` picks what is around the same view and template (the transaction list,
50 rows):

* ``full``: the portal as deployed: server-side session in Redis, rate limits, request
  metrics, the JSON request log, request id, CSP and security headers, access checks,
  CSRF, the transaction boundary.
* ``nolimit``: the same without the portal's rate limiting (its overhead is the difference).
* ``flask-limiter``: the portal's limiting replaced by Flask-Limiter's default setup
  (a default limit on every route, ``X-RateLimit-*`` headers), for comparison.
* ``bare``: the same Flask app object, view function and template, called by a bare
  route: Flask's own signed-cookie session, no before/after-request hooks at all (no
  limiter, metrics, logging, request id, CSP, access check or commit hook), the user set
  directly instead of loaded from a session.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask import g  # noqa: E402
from flask.sessions import SecureCookieSessionInterface  # noqa: E402

from app import create_app  # noqa: E402

VARIANT = os.environ.get("BENCH_VARIANT", "full")

# One benchmark user makes thousands of requests a minute: the per-user page limit is raised so
# that it never refuses one. The check itself (its Redis round trip, its headers) is unchanged.
from app.security import ratelimits  # noqa: E402

object.__setattr__(ratelimits.PAGES_PER_USER, "limit", "1000000 per minute")


def _without_limiting(application) -> None:
    hooks = application.before_request_funcs[None]
    hooks[:] = [f for f in hooks if getattr(f, "__name__", "") != "_count_request"]
    after = application.after_request_funcs[None]
    after[:] = [f for f in after if getattr(f, "__name__", "") != "_headers"]


def _bare(application):
    """The app with every hook removed; a WSGI callable that sets the user and calls the view."""
    from app.extensions import db
    from app.users.models import User

    application.before_request_funcs.clear()
    application.after_request_funcs.clear()
    application.teardown_request_funcs.clear()
    application.url_value_preprocessors.clear()
    application.session_interface = SecureCookieSessionInterface()
    with application.app_context():
        user = db.session.scalar(db.select(User).where(User.email == os.environ["BENCH_EMAIL"]))
        _ = (user.institution, user.role_enum)  # loaded once, kept detached
        db.session.expunge(user)
    view = application.view_functions["platform.transactions"]
    inner = getattr(view, "__wrapped__", view)

    def bare_wsgi(environ, start_response):
        with application.request_context(environ):
            g._login_user = user
            response = application.make_response(inner())
            db.session.remove()
            return response(environ, start_response)

    return bare_wsgi


if VARIANT == "flask-limiter":
    app = create_app({"RATELIMIT_DEFAULT": "100000 per minute", "RATELIMIT_HEADERS_ENABLED": True})
    _without_limiting(app)
elif VARIANT == "nolimit":
    app = create_app()
    _without_limiting(app)
elif VARIANT == "bare":
    app = _bare(create_app())
else:
    app = create_app()
