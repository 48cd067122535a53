"""Render static/img/favicon.svg to the PNG and ICO fallbacks with Debian's Chromium.

Run after changing the SVG: ``.venv/bin/python scripts/dev/make_favicon.py``. The ICO holds
a 32x32 PNG (a format every browser reads), so no image library is needed.
"""

from __future__ import annotations

import base64
import os
import struct
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SVG = ROOT / "static" / "img" / "favicon.svg"


def render(page, size: int) -> bytes:
    page.set_viewport_size({"width": size, "height": size})
    page.set_content(f'<html><body style="margin:0;background:transparent">'
                     f'<img src="data:image/svg+xml;base64,{base64.b64encode(SVG.read_bytes()).decode()}"'
                     f' width="{size}" height="{size}"></body></html>')
    return page.screenshot(omit_background=True, clip={"x": 0, "y": 0, "width": size, "height": size})


def ico_from_png(png: bytes, size: int) -> bytes:
    """An ICO file with one PNG image (ICONDIR + one ICONDIRENTRY + the PNG bytes)."""
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


def main() -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
                                     args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        (ROOT / "static" / "img" / "favicon-32.png").write_bytes(render(page, 32))
        (ROOT / "static" / "img" / "apple-touch-icon.png").write_bytes(render(page, 180))
        (ROOT / "static" / "favicon.ico").write_bytes(ico_from_png(render(page, 32), 32))
        browser.close()


if __name__ == "__main__":
    main()
