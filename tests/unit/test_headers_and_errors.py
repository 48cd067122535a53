"""Security headers, request ids and error pages."""

import pytest

from app.users.models import Role


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"  # the form carries a CSRF token
    assert "Strict-Transport-Security" not in response.headers


def test_authenticated_pages_are_never_cached(client, make_user, login_as):
    login_as(make_user(Role.ADMIN))
    assert client.get("/dashboard").headers["Cache-Control"] == "no-store"
    assert client.get("/readyz").headers["Cache-Control"] == "no-store"


def test_static_files_are_cacheable(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200 and response.headers.get("Cache-Control") != "no-store"
    response.close()


def test_hsts_in_production(app_config):
    from app import create_app

    production_like = create_app({**app_config, "HSTS_ENABLED": True})
    response = production_like.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-12345678"}).headers["X-Request-ID"] == "abc-12345678"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert len(made) == 32 and "script" not in made


@pytest.mark.parametrize(("path", "code", "title"), [
    ("/no-such-page", 404, "Page not found"),
    ("/logout", 405, "Method not allowed"),
])
def test_error_pages_show_the_request_id(client, path, code, title):
    response = client.get(path, headers={"X-Request-ID": "trace-0001-abcd"})
    body = response.get_data(as_text=True)
    assert response.status_code == code and title in body and "trace-0001-abcd" in body


def test_forbidden_page(client, make_user, login_as):
    login_as(make_user(Role.CUSTOMER))
    response = client.get("/dashboard")
    assert response.status_code == 403 and "Access denied" in response.get_data(as_text=True)


def test_json_errors_for_probes(client):
    response = client.get("/healthz/nothing", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "http_404"


def test_server_error_page(app, client, monkeypatch):
    from app.dashboard import routes

    def broken(_scope):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(routes, "overview", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        from app.extensions import db
        from app.security.actor import Actor
        from app.users import services
        from tests.conftest import DEFAULT_PASSWORD, FormClient

        user = services.create_user(Actor.system("test"), email="boom@example.com", display_name="Boom",
                                    role=Role.ADMIN, password=DEFAULT_PASSWORD)
        db.session.commit()
        FormClient(client).post("/login", {"email": user.email, "password": DEFAULT_PASSWORD})
        response = client.get("/dashboard", headers={"X-Request-ID": "trace-5000-abcd"})
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    body = response.get_data(as_text=True)
    assert response.status_code == 500 and "Something went wrong" in body and "trace-5000-abcd" in body
    assert "kaboom" not in body


def test_missing_csrf_token_changes_nothing_and_says_why(client, make_user, db):
    user = make_user(Role.ADMIN)
    response = client.post("/login", data={"email": user.email, "password": "correct horse battery staple"})
    assert response.status_code == 400
    assert "This form had expired or was not sent from this portal" in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_oversized_request_is_refused(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = client.post("/login", data={"email": "x" * 5000})
    assert response.status_code == 413


NEEDS_HTTPS = "This portal needs HTTPS (or X-Forwarded-Proto from your proxy)."


def test_plain_http_with_secure_cookies_says_https_is_needed(app_config, db, make_user):
    """Production (Secure cookies) reached over plain HTTP: the browser never sends the session
    cookie back, so the sign-in page and the refused form say so instead of "the form had expired"."""
    from app import create_app

    production_like = create_app({**app_config, "SESSION_COOKIE_SECURE": True, "TRUSTED_PROXY_COUNT": 1})
    user = make_user(Role.ADMIN)
    plain = production_like.test_client()
    page = plain.get("/login").get_data(as_text=True)
    assert NEEDS_HTTPS in page and 'data-testid="needs-https"' in page

    refused = plain.post("/login", data={"email": user.email, "password": "correct horse battery staple"})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400 and NEEDS_HTTPS in body and "had expired" not in body
    json_refusal = plain.post("/login", data={}, headers={"Accept": "application/json"})
    assert json_refusal.get_json()["error"]["code"] == "https_required"

    proxied = production_like.test_client()
    for headers, base in (({"X-Forwarded-Proto": "https"}, "http://localhost"), ({}, "https://localhost")):
        page = proxied.get("/login", headers=headers, base_url=base).get_data(as_text=True)
        assert NEEDS_HTTPS not in page  # behind a proxy that says https, or on https itself

    indonesian = plain.get("/login", headers={"Accept-Language": "id"}).get_data(as_text=True)
    assert 'data-testid="needs-https"' in indonesian and NEEDS_HTTPS not in indonesian  # translated


def test_plain_http_without_secure_cookies_keeps_the_usual_csrf_message(client, db):
    page = client.get("/login").get_data(as_text=True)
    assert NEEDS_HTTPS not in page  # development: cookies are not Secure, plain HTTP works
    refused = client.post("/login", data={"email": "someone@example.com", "password": "x"})
    assert "This form had expired" in refused.get_data(as_text=True)
