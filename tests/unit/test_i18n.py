"""English and Indonesian: complete catalogs, the language switcher, money formatting."""

from flask_babel import force_locale

from app.formatting import money_text
from app.users.models import Role
from scripts.dev import i18n as catalogs


def test_every_string_has_an_indonesian_translation():
    problems = catalogs.problems()
    assert not problems, "\n".join(problems[:50])


def test_compiled_catalogs_are_current():
    for spec in catalogs.catalogs():
        po = spec.po_path("id")
        if po.exists():
            mo = po.with_suffix(".mo")
            assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, f"run: make translations ({po})"


def test_browser_language_is_used_first(client):
    page = client.get("/login", headers={"Accept-Language": "id-ID,id;q=0.9,en;q=0.5"})
    assert "Masuk" in page.get_data(as_text=True) and '<html lang="id">' in page.get_data(as_text=True)


def test_language_switcher_changes_and_remembers_the_language(client, forms, make_user, login_as):
    login_as(make_user(Role.ADMIN))
    response = forms.post("/language", {"lang": "id", "next": "/dashboard"}, page="/dashboard")
    assert response.headers["Location"] == "/dashboard"
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Dasbor" in page and "Transaksi tertunda" in page
    forms.post("/language", {"lang": "en", "next": "https://evil.example/"}, page="/dashboard")
    assert "Pending transactions" in client.get("/dashboard").get_data(as_text=True)


def test_unknown_language_is_refused_with_a_message(client, forms):
    response = forms.post("/language", {"lang": "xx", "next": "/login"}, page="/login")
    assert response.status_code == 302
    assert "That language is not available." in client.get("/login").get_data(as_text=True)


def test_rupiah_in_each_locale(app):
    with app.test_request_context():
        with force_locale("id"):
            assert money_text(1_500_000) == "Rp1.500.000"
        with force_locale("en"):
            assert money_text(1_500_000) == "IDR\u00a01,500,000"  # a letter code is spaced, never broken
        assert money_text(None) == ""
