"""docs/API_RATE_LIMITS.md and the portal's "Rate limits" page, from the declarations.

Both read :mod:`app.security.ratelimits`; ``scripts/dev/rate_limit_docs.py`` writes the
Markdown file and ``tests/unit/test_rate_limits.py`` fails when it differs from what
the code would write.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import force_locale, format_timedelta
from flask_babel import gettext as _
from limits import RateLimitItem, parse

from app.formatting import count
from app.security.ratelimits import FAILURE_THROTTLES, REQUEST_LIMITS

DOC_PATH = "docs/API_RATE_LIMITS.md"


@dataclass(frozen=True)
class Row:
    name: str
    limit: str  # as declared: "30 per minute"
    per: object
    applies_to: object
    purpose: object
    when_redis_is_down: object

    @property
    def display(self) -> str:
        return display(parse(self.limit))


def display(item: RateLimitItem) -> str:
    """A limit in the reader's language: "30 per minute" becomes "30 per 1 minute" / "30 per 1 menit"."""
    return _("%(amount)s per %(period)s", amount=count(item.amount),
             period=format_timedelta(item.get_expiry(), threshold=1))


def request_rows() -> list[Row]:
    from flask_babel import lazy_gettext as _l

    return [Row(r.name, r.limit, r.per.label, r.applies_to, r.purpose,
                _l("counted per process") if r.security else _l("not counted"))
            for r in REQUEST_LIMITS]


def throttle_rows() -> list[Row]:
    from flask_babel import lazy_gettext as _l

    return [Row(t.name, t.limit, t.scope, _l("failures only"), t.purpose, _l("counted per process"))
            for t in FAILURE_THROTTLES]


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


HEADER = """# API and portal rate limits

<!-- Generated from app/security/ratelimits.py by scripts/dev/rate_limit_docs.py; do not edit by hand.
     tests/unit/test_rate_limits.py fails when this file and the code differ. -->

Every limit of the portal is declared in `app/security/ratelimits.py`; this page and the
portal's "Rate limits" page (`/rate-limits`) are generated from those declarations.

## How requests are counted

Request limits count every matching request, per IP address, per signed-in user or per
API token, in fixed windows aligned to the clock (a "per minute" window starts at second
0 of each minute). The request after the last allowed one in a window is refused with
`429 Too Many Requests`. Counters live in Redis, shared by every worker and host.

Every counted response carries:

| header | meaning |
| --- | --- |
| `X-RateLimit-Limit` | requests allowed in the current window |
| `X-RateLimit-Remaining` | requests left in the current window |
| `X-RateLimit-Reset` | when the window ends, in seconds since 1970-01-01 UTC |
| `X-RateLimit-Resource` | which limit the figures belong to (its name below) |
| `Retry-After` | on a 429 only: seconds to wait before trying again |

A refused API request gets a JSON body:

```json
{"error": {"code": "rate_limited", "limit": "api-per-token", "retry_after": 17,
           "message": "Too many requests: ...", "request_id": "..."}}
```

People using the portal get a page that says how long to wait.

When Redis does not answer, the portal keeps serving: limits marked "counted per
process" keep counting in each worker process (so the effective limit is multiplied
by the number of workers until Redis is back), the others let requests through. The
metric `saintara_ratelimit_fallbacks_total{limit,action}` counts each such decision.
"""


def routes_of(rule) -> str:
    """The URL rules a request limit counts (from the app's URL map), for the document."""
    from flask import current_app

    if rule.endpoints == ("*",):
        return "every other route"
    if not rule.endpoints:
        return "`?format=csv` on list pages"
    found = []
    for url_rule in sorted(current_app.url_map.iter_rules(), key=lambda r: r.rule):
        blueprint = url_rule.endpoint.split(".", 1)[0] + ".*"
        if url_rule.endpoint in rule.endpoints or blueprint in rule.endpoints:
            methods = sorted((url_rule.methods or set()) - {"HEAD", "OPTIONS"})
            if rule.methods:
                methods = [m for m in methods if m in rule.methods]
            found.append(f"{'/'.join(methods)} `{url_rule.rule}`")
    return "<br>".join(found)


def render_markdown() -> str:
    """The whole of docs/API_RATE_LIMITS.md (English); needs an app context (for the URL map)."""
    with force_locale("en"):
        lines = [HEADER, "## Request limits", "",
                 "| name | limit | counted per | applies to | routes | when Redis is down | why |",
                 "| --- | --- | --- | --- | --- | --- | --- |"]
        for row, rule in zip(request_rows(), REQUEST_LIMITS, strict=True):
            lines.append(f"| `{row.name}` | {row.limit} | {_cell(row.per)} | {_cell(row.applies_to)} | "
                         f"{routes_of(rule)} | {_cell(row.when_redis_is_down)} | {_cell(row.purpose)} |")
        lines += ["", "## Failure throttles", "",
                  "These count only failures (a wrong password, a wrong code) in a moving window; a success "
                  "clears them. Past the limit the form answers 429 and says when to try again.", "",
                  "| name | limit | counted per | when Redis is down | why |",
                  "| --- | --- | --- | --- | --- |"]
        for row in throttle_rows():
            lines.append(f"| `{row.name}` | {row.limit} | {_cell(row.per)} | {_cell(row.when_redis_is_down)} | "
                         f"{_cell(row.purpose)} |")
    return "\n".join(lines) + "\n"
