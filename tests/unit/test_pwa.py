"""The installable portal: manifest, service worker and offline page (docs/PWA.md)."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

from app.pwa import precache
from app.users.models import Role
from tests.conftest import bearer


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def worker_constant(source: str, name: str):
    return json.loads(re.search(rf"^const {name} = (.*);$", source, re.M).group(1))


def test_manifest_is_served_with_its_type_and_names_installable_icons(db, client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = json.loads(response.data)
    assert manifest["start_url"] == "/" and manifest["scope"] == "/" and manifest["display"] == "standalone"
    assert manifest["name"] == "Saintara Admin" and manifest["theme_color"] and manifest["background_color"]
    sizes = {}
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == "image/png", icon
        width, height = png_size(image.data)
        image.close()
        assert icon["sizes"] == f"{width}x{height}", icon
        sizes.setdefault(icon["purpose"], set()).add(width)
    assert sizes == {"any": {192, 512}, "maskable": {512}}


def test_manifest_is_translated(db, client):
    client.get("/language/id")
    description = json.loads(client.get("/manifest.webmanifest", headers={"Accept-Language": "id"}).data)
    assert description["description"] == "Portal administrasi platform Saintara."


def test_every_page_links_the_manifest_and_registers_the_worker(db, client):
    html = client.get("/login").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert 'src="/static/js/pwa.js"' in html


def test_service_worker_is_served_from_the_root_for_the_whole_portal(db, client):
    response = client.get("/sw.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "'self'" in response.headers["Content-Security-Policy"]  # the worker runs under the strict CSP


def test_worker_precaches_the_static_files_and_offline_pages_and_nothing_else(app, db, client):
    source = client.get("/sw.js").get_data(as_text=True)
    static_root = Path(app.static_folder)
    expected = sorted("/static/" + p.relative_to(static_root).as_posix()
                      for p in precache.static_files(app.static_folder))
    assert sorted(worker_constant(source, "STATIC_URLS")) == expected
    assert "/static/css/app.css" in expected and "/static/js/pwa.js" in expected
    assert not [url for url in expected if url.endswith(".map") or url.endswith("LICENSE")]
    assert worker_constant(source, "OFFLINE_URLS") == {"en": "/offline/en", "id": "/offline/id"}
    assert re.fullmatch(r"[0-9a-f]{16}", worker_constant(source, "VERSION"))
    # Nothing else is stored: the only cache.put/addAll is the precache of these lists.
    assert source.count("cache.addAll(") == 1 and "cache.put(" not in source


def test_worker_version_follows_the_static_files(app, tmp_path, monkeypatch):
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "app.css").write_text("body{}")
    (tmp_path / "css" / "app.css.map").write_text("{}")
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    with app.test_request_context("/sw.js"):
        first = precache.build(app, b"worker")
        assert first.static_urls == ("/static/css/app.css",)
        assert precache.build(app, b"worker").version == first.version
        (tmp_path / "css" / "app.css").write_text("body{color:red}")
        assert precache.build(app, b"worker").version != first.version
        assert precache.build(app, b"another worker").version != precache.build(app, b"worker").version


def test_offline_page_is_translated_and_holds_nothing_of_the_signed_in_person(db, make_user, client_for):
    user = make_user(Role.SUPERADMIN)
    client = client_for(user)
    english = client.get("/offline/en")
    assert english.status_code == 200 and "You are offline" in english.get_data(as_text=True)
    indonesian = client.get("/offline/id").get_data(as_text=True)
    assert '<html lang="id">' in indonesian and "Anda sedang luring" in indonesian
    for html in (english.get_data(as_text=True), indonesian):
        assert user.email not in html and user.display_name not in html and "csrf" not in html
    assert client.get("/offline/xx").status_code == 404


def test_signed_in_pages_and_api_answers_stay_out_of_every_cache(db, client, make_user, client_for, make_token):
    user = make_user(Role.SUPERADMIN)
    signed_in = client_for(user)
    for path in ("/dashboard", "/account", "/api/v1/openapi.json"):
        response = signed_in.get(path)
        assert response.status_code == 200 and response.headers.get("Cache-Control") == "no-store", path
    answer = client.get("/api/v1/audit-logs", headers=bearer(make_token(user)))
    assert answer.status_code == 200 and answer.headers.get("Cache-Control") == "no-store"


def test_pages_carry_what_an_installable_app_needs(db, client, make_user, client_for):
    """The checks a Lighthouse run would make on a page (Lighthouse itself is not packaged here)."""
    for html in (client.get("/login").get_data(as_text=True),
                 client_for(make_user(Role.ADMIN)).get("/dashboard").get_data(as_text=True)):
        assert re.search(r'<html lang="(en|id)">', html)
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
        assert '<meta name="theme-color" content="#212529">' in html
        assert '<link rel="apple-touch-icon" href="/static/img/apple-touch-icon.png">' in html
    apple = client.get("/static/img/apple-touch-icon.png")
    assert png_size(apple.data) == (180, 180)
    apple.close()
