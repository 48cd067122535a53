"""Render the committed SVG icons to every PNG and ICO the portal serves, with Debian's Chromium.

Run after changing an SVG: ``.venv/bin/python scripts/dev/make_favicon.py``. From
``static/img/favicon.svg`` (rounded corners): the 32x32 favicon, the ICO (one 32x32 PNG, a
format every browser reads, so no image library is needed) and the installed app's icons
(192x192 and 512x512, ``purpose: any`` in the web app manifest). From
``static/img/icon-maskable.svg`` (full bleed, the letter inside the safe circle): the
maskable 512x512 icon and the 180x180 Apple touch icon (iOS rounds the corners itself).
"""

from __future__ import annotations

import base64
import os
import struct
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
IMG = ROOT / "static" / "img"
SVG = IMG / "favicon.svg"
MASKABLE_SVG = IMG / "icon-maskable.svg"


def render(page, size: int, svg: Path = SVG) -> bytes:
    page.set_viewport_size({"width": size, "height": size})
    page.set_content(f'<html><body style="margin:0;background:transparent">'
                     f'<img src="data:image/svg+xml;base64,{base64.b64encode(svg.read_bytes()).decode()}"'
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
        (IMG / "favicon-32.png").write_bytes(render(page, 32))
        (IMG / "icon-192.png").write_bytes(render(page, 192))
        (IMG / "icon-512.png").write_bytes(render(page, 512))
        (IMG / "icon-maskable-512.png").write_bytes(render(page, 512, MASKABLE_SVG))
        (IMG / "apple-touch-icon.png").write_bytes(render(page, 180, MASKABLE_SVG))
        (ROOT / "static" / "favicon.ico").write_bytes(ico_from_png(render(page, 32), 32))
        browser.close()


if __name__ == "__main__":
    main()
