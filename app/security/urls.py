"""Guards for URLs that come from the client."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next_url(target: str | None, fallback: str) -> str:
    """``target`` when it is a local path on this site, else ``fallback``.

    Refuses absolute URLs, scheme-relative ``//host``, backslashes, and control or
    space characters (browsers drop tabs and newlines, so a tab can hide a second slash).
    """
    if not target or any(ord(c) < 33 or c == "\x7f" for c in target):
        return fallback
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target
