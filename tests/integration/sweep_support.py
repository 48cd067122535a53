"""Pieces of the route sweep (test_route_sweep.py): what a page offers (forms and links),
the hostile values to send, and a fingerprint of the database to prove a refusal changed
nothing."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

from hypothesis import strategies as st
from sqlalchemy import text

# --- what a page offers -----------------------------------------------------------------


@dataclass
class Field:
    name: str
    kind: str  # the input's type, or "select" / "textarea"
    values: list[str] = field(default_factory=list)  # the value(s) the page offers


@dataclass
class Form:
    method: str
    action: str
    multipart: bool
    fields: dict[str, Field] = field(default_factory=dict)

    def add(self, name: str, kind: str, value: str | None) -> Field:
        known = self.fields.setdefault(name, Field(name, kind))
        if value is not None and value not in known.values:
            known.values.append(value)
        return known


class PageParser(HTMLParser):
    """The forms (with their fields and offered values) and the links of an HTML page."""

    def __init__(self, url: str):
        super().__init__(convert_charrefs=True)
        self.url = url
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: Field | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = Form(a.get("method", "get").lower(), a.get("action") or self.url,
                              "multipart" in a.get("enctype", ""))
            self.forms.append(self._form)
        elif self._form is None or not a.get("name") and tag != "option":
            return
        elif tag == "input":
            self._form.add(a["name"], a.get("type", "text").lower(), a.get("value", "on" if a.get(
                "type") in ("checkbox", "radio") else ""))
        elif tag == "button":
            self._form.add(a["name"], "submit", a.get("value", ""))
        elif tag == "textarea":
            self._form.add(a["name"], "textarea", None)
        elif tag == "select":
            self._select = self._form.add(a["name"], "select", None)
        elif tag == "option" and self._select is not None and a.get("value", "") not in self._select.values:
            self._select.values.append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def parse_page(url: str, html: str) -> PageParser:
    parser = PageParser(url)
    parser.feed(html)
    return parser


def query_of(href: str) -> tuple[str, list[tuple[str, str]]]:
    """(path, query pairs) of a link; the path is empty for another host."""
    parts = urlsplit(href)
    if parts.netloc and parts.netloc != "localhost":
        return "", []
    return parts.path, parse_qsl(parts.query, keep_blank_values=True)


# --- hostile values -----------------------------------------------------------------------


def forged_cursor(value) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Each family starts with the value most likely to hurt: Hypothesis begins with the
# simplest example, which takes the first of everything.
TEXT = ["\x00", "a\x00b", "\x01\x1f\x7f", "\r\n\t", "\u202e\u200b\ufeff", "Dewi 😀 İstanbul ß", "'\";--<b>&amp;",
        "%00", "..%2F..%2Fetc", " ", ""]
NUMBERS = ["-1", "0", str(2**31), str(2**63), str(10**30), str(-(2**63) - 1), "1e308", "NaN", "-inf", "1.5",
           " 7 ", "٣", "0x1f"]
DATES = ["0001-01-01", "9999-12-31", "0000-01-01", "2026-02-30", "2026-13-01", "10000-01-01", "-0001-01-01",
         "2026-01-01T25:61", "0001-01-01T00:00:00+14:00", "31/12/2026", "2026-W01", "now"]
CURSORS = [forged_cursor(v) for v in (
    ["abc", 1], [1, "x"], [True, 1], [1e308, 1], [10**30, 1], [[1], [2]], {"a": 1}, [None, None], [],
    [{"dt": "0001-01-01T00:00:00"}, 1], [{"dt": "9999-12-31T23:59:59.999999"}, 10**30], [{"d": "x"}, 1],
    ["\x00", 1], [-(2**63) - 1, -1], "text", 7, b"\xff\xfe\x00", b"not json")
] + ["!!!", "====", "a", "%%", "x" * 600]
LONG = ["x" * 255, "é" * 256, "y" * 5000, "z\x00" * 20000]

NUMERIC_HINTS = ("id", "size", "limit", "page", "version", "amount", "days", "per", "count", "offset")
DATE_HINTS = ("date", "from", "to", "since", "until", "day", "before", "after")


def text_values() -> st.SearchStrategy[str]:
    """Any text: control characters, every plane of unicode (Hypothesis draws those)."""
    return st.text(st.characters(codec="utf-8"), max_size=40)


def family(name: str):
    """The hostile value families, the ones that suit ``name`` first."""
    families = [TEXT, NUMBERS, DATES, CURSORS, LONG]
    lower = name.lower()
    if "cursor" in lower:
        families.insert(0, families.pop(3))
    elif any(h in lower for h in DATE_HINTS):
        families.insert(0, families.pop(2))
    elif any(lower == h or lower.endswith("_" + h) for h in NUMERIC_HINTS):
        families.insert(0, families.pop(1))
    return families


def hostile(name: str) -> st.SearchStrategy[str]:
    return st.one_of(*[st.sampled_from(f) for f in family(name)], text_values())


def plausible(field: Field, n: int) -> str:
    """A value the form would likely accept, so that one hostile field at a time gets past the others."""
    name = field.name.lower()
    if field.values and field.values[0]:
        return field.values[0]  # the current value, the first option, the hidden expected_version
    if field.kind == "email" or "email" in name:
        return f"sweep{n}@example.com"
    if field.kind == "password" or "password" in name:
        return "correct horse battery staple"
    if field.kind == "number" or name.endswith("_id") or name in ("days", "limit"):
        return "1"
    if field.kind == "date" or name in ("since", "until", "from", "to", "date", "day") or name.endswith(
            ("_from", "_to", "_date", "_day")):
        return "2026-01-15"
    return f"SWP{n:04d}" if "code" in name else f"Sweep value {n}"


def value_for(name: str, offered: list[str]) -> st.SearchStrategy[str]:
    """A hostile value, or (so that checks behind the first one are reached) a value the page offered."""
    if not offered:
        return hostile(name)
    return st.one_of(hostile(name), st.sampled_from(offered))


# --- the database's state ------------------------------------------------------------------

# Bookkeeping that a request may legitimately change without changing anything a person
# asked for; the fingerprint leaves it out:
EXCLUDED_COLUMNS = {
    # sign-in time, the two-factor reminder shown, the two-factor lock after failed codes
    # (a refused code *must* count towards the lock): written with update_bookkeeping()
    "users": ("last_sign_in_at", "two_factor_reminded_at", "two_factor_locked_at"),
    # when and from where a token was last used: written on every API request
    "api_tokens": ("last_used_at", "last_used_ip"),
}
# audit_logs rows with result 'failure' record a refused attempt (sign-in, code, step-up):
# they are written on purpose after the rollback, they are not a change. Sessions, sign-in
# throttles and rate-limit counters live in Redis and are not fingerprinted at all.
NOT_FINGERPRINTED = ("alembic_version",)


def fingerprint_sql(tables: list[str]) -> str:
    parts = []
    for table in tables:
        if table in NOT_FINGERPRINTED:
            continue
        row = "to_jsonb(t)" + "".join(f" - '{c}'" for c in EXCLUDED_COLUMNS.get(table, ()))
        where = " WHERE t.result <> 'failure'" if table == "audit_logs" else ""
        parts.append(f"SELECT '{table}' AS name, count(*) AS n, "
                     f"md5(coalesce(string_agg(({row})::text, '|' ORDER BY ({row})::text), '')) AS digest "
                     f"FROM {table} t{where}")
    return " UNION ALL ".join(parts)


def fingerprint(session, sql: str) -> dict[str, tuple[int, str]]:
    """Per table: (row count, md5 of its rows)."""
    return {name: (n, digest) for name, n, digest in session.execute(text(sql))}


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


def csrf_of(html: str) -> str:
    """The CSRF token a page carries (the sign-in form, or a signed-in page's sign-out form)."""
    for form in parse_page("", html).forms:
        token = form.fields.get("csrf_token")
        if token and token.values:
            return token.values[0]
    return ""
