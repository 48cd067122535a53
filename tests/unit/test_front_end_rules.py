"""Front-end rules: no inline script or style (CSP), no CDN, vendored files as pinned."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
REMOTE = re.compile(r"""(src|href)\s*=\s*["'](https?:)?//""", re.I)


def test_templates_have_no_inline_code_and_no_remote_assets():
    problems = []
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        for name, pattern in [("inline script", INLINE_SCRIPT), ("inline style", INLINE_STYLE),
                              ("inline event handler", INLINE_HANDLER), ("remote asset", REMOTE)]:
            if pattern.search(text):
                problems.append(f"{path.relative_to(ROOT)}: {name}")
    assert not problems, problems


def test_vendored_files_match_the_pinned_versions():
    pins = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    manifest = json.loads((ROOT / "static/vendor/manifest.json").read_text())
    assert {name: entry["version"] for name, entry in manifest.items()} == pins
    for entry in manifest.values():
        for file in entry["files"]:
            assert (ROOT / file).is_file(), file
    css = (ROOT / "static/vendor/bootstrap/css/bootstrap.min.css").read_text()
    assert f"Bootstrap  v{pins['bootstrap']}" in css or f"Bootstrap v{pins['bootstrap']}" in css


def test_lockfile_pins_what_package_json_asks_for():
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pins = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    for name, version in pins.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
