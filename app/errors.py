"""Error pages (HTML, or JSON for API and probe clients), each showing the request id."""

from __future__ import annotations

from flask import Flask, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.extensions import db
from app.observability import sentry

MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood. Check what you entered and try again.")),
    401: (_l("Authentication required"), _l("Send a valid token with this request.")),
    403: (_l("Access denied"), _l("Your account is not allowed to open this page.")),
    404: (_l("Page not found"), _l("There is nothing at this address, or you may not see it.")),
    405: (_l("Method not allowed"), _l("This address does not accept that kind of request.")),
    409: (_l("Changed by someone else"),
          _l("Someone else changed this record while you were working on it. Reload it and try again.")),
    413: (_l("Upload too large"), _l("The file or form you sent is larger than this portal accepts.")),
    429: (_l("Too many requests"), _l("You have made too many requests. Wait a moment and try again.")),
    500: (_l("Something went wrong"),
          _l("The portal could not complete your request. The error has been recorded; "
             "if it keeps happening, contact support with the request id below.")),
    503: (_l("Service unavailable"), _l("The portal is temporarily unavailable. Try again shortly.")),
}
CSRF_MESSAGE = _l(
    "This form had expired or was not sent from this portal, so nothing was changed. "
    "Go back, reload the page and submit it again."
)

HTTPS_CSRF_MESSAGE = _l(
    "This portal needs HTTPS (or X-Forwarded-Proto from your proxy). Over plain HTTP the browser does not "
    "send the session cookie back, so the form could not be checked and nothing was changed."
)


def wants_json() -> bool:
    """True for API, probe and ``.json`` paths, and for clients that prefer JSON."""
    return request.path.startswith(("/api/", "/readyz", "/healthz")) or request.path.endswith(".json") or (
        request.accept_mimetypes.best == "application/json"
    )


def render_error(code: int, message=None, *, error_code: str | None = None, link: tuple | None = None, **details):
    """An error response with the request id, as a page or as JSON (``details`` go into the JSON).

    ``link`` is ``(url, label)`` of a way on from the page, shown beside the start page.
    """
    title, default_message = MESSAGES.get(code) or MESSAGES[400 if code < 500 else 500]
    message = message or default_message
    request_id = g.get("request_id")
    event_id = sentry.last_event_id() if code >= 500 else None
    if wants_json():
        body = {"error": {"code": error_code or f"http_{code}", "message": str(message), "request_id": request_id,
                          **{key: value for key, value in details.items() if value}}}
        if event_id:
            body["error"]["event_id"] = event_id
        return jsonify(body), code
    return render_template("errors/error.html", code=code, title=title, message=message,
                           request_id=request_id, event_id=event_id, link=link), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(_exc):
        from app.security.headers import secure_cookies_over_plain_http

        if secure_cookies_over_plain_http():  # not an expired form: the cookie can never come back
            return render_error(400, HTTPS_CSRF_MESSAGE, error_code="https_required")
        return render_error(400, CSRF_MESSAGE, error_code="csrf_failed")

    @app.errorhandler(StaleDataError)
    def _stale(_exc):
        db.session.rollback()
        return render_error(409, error_code="stale_version")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        response = render_error(exc.code)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            body, status = response
            return body, status, {"Allow": ", ".join(exc.valid_methods)}
        return response

    @app.errorhandler(InternalServerError)
    def _server_error(_exc):
        db.session.rollback()
        return render_error(500)
