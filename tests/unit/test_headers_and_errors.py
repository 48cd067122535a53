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
