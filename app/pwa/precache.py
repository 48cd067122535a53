"""What the service worker keeps on a device: the static files and the offline page, by version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, render_template, url_for
from flask_babel import force_locale

# Never precached: source maps and licences (no page loads them), the vendoring manifest.
SKIPPED_SUFFIXES = (".map",)
SKIPPED_NAMES = frozenset({"LICENSE", "manifest.json"})
OFFLINE_LOCALES_KEY = "PWA_OFFLINE_LOCALES"


@dataclass(frozen=True)
class Precache:
    version: str  # a content hash of every precached file and of the worker itself
    static_urls: tuple[str, ...]
    offline_urls: dict[str, str]  # locale -> URL of the offline page in that language


def static_files(static_folder: str) -> list[Path]:
    """The files under ``static/`` a page may load, sorted (what the worker precaches)."""
    root = Path(static_folder)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in SKIPPED_NAMES
                  and not p.name.endswith(SKIPPED_SUFFIXES) and not p.name.startswith("."))


def build(app: Flask, worker_source: bytes) -> Precache:
    """The precache list and its version; call inside a request (for ``url_for``)."""
    root = Path(app.static_folder)
    digest = hashlib.sha256(worker_source)
    urls = []
    for path in static_files(app.static_folder):
        relative = path.relative_to(root).as_posix()
        digest.update(relative.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        urls.append(url_for("static", filename=relative))
    offline = {locale: url_for("pwa.offline", locale=locale) for locale in app.config["LANGUAGES"]}
    for locale, url in sorted(offline.items()):
        digest.update(f"{locale}={url}".encode() + b"\0" + offline_page(locale).encode())
    return Precache(version=digest.hexdigest()[:16], static_urls=tuple(urls), offline_urls=offline)


def offline_page(locale: str) -> str:
    """The offline page in ``locale``: no name, no data, nothing of whoever is signed in."""
    with force_locale(locale):
        return render_template("pwa/offline.html", locale=locale)
