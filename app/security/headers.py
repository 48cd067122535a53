"""Security headers on every response: CSP without inline code, framing, caching."""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from app.errors import CSRF_MESSAGE, HTTPS_CSRF_MESSAGE, render_error

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

STATIC_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def secure_cookies_over_plain_http() -> bool:
    """True when the session cookie is Secure but this request came over plain HTTP (no TLS, and
    no trusted ``X-Forwarded-Proto: https``): the browser will not send the cookie back, so no
    form can be submitted and nobody can sign in."""
    return bool(current_app.config.get("SESSION_COOKIE_SECURE")) and not request.is_secure


def _apply(response: Response, hsts: bool, headers: dict[str, str]) -> Response:
    for name, value in headers.items():
        response.headers.setdefault(name, value)
    if hsts:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint != "static" and (
        current_user.is_authenticated or response.mimetype == "text/html" or request.blueprint == "api"
        or "Authorization" in request.headers
    ):
        # Pages of a signed-in user, forms carrying CSRF tokens and API answers never sit in a
        # cache (the service worker, docs/PWA.md, never stores them either).
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


def _csrf_error(_exc: CSRFError):
    if secure_cookies_over_plain_http():  # not an expired form: the cookie can never come back
        return render_error(400, HTTPS_CSRF_MESSAGE, error_code="https_required")
    return render_error(400, CSRF_MESSAGE, error_code="csrf_failed")


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    hsts = app.config["HSTS_ENABLED"]
    # The browser SDK reports through this site (app.replay's tunnel): no other origin is ever allowed.
    app.after_request(lambda response: _apply(response, hsts, STATIC_HEADERS))
