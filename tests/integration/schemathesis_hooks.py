"""Schemathesis hooks (test_api_schemathesis.py): what OpenAPI 3.0 cannot say, given as real values.

- A cursor is opaque: only a ``next_cursor`` that the same list returned is valid, which no
  JSON Schema can say. For a *positive* case (one Schemathesis claims must be accepted) the
  generated cursor is replaced with one the server itself returned for the same list and
  filters, or left out when that list has no next page.
- /audit-logs takes resource_id only together with resource_type (parameters cannot depend
  on each other in OpenAPI 3.0): a positive case with resource_id alone gets a resource type.

Negative cases keep what Schemathesis made: a forged cursor must still be refused with 400.

The server and token come from SWEEP_API_URL and SWEEP_API_TOKEN (set by the test).
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request

import schemathesis

CURSOR_PARAMETERS = ("cursor", "after")  # /audit-logs names its cursor "after"
_cache: dict[tuple, str | None] = {}


def _real_cursor(path: str, query: dict, name: str) -> str | None:
    """The next_cursor of the first one-item page of ``path`` with the same filters."""
    filters = {k: v for k, v in query.items() if k not in CURSOR_PARAMETERS and k != "limit"}
    key = (path, json.dumps(filters, sort_keys=True, default=str))
    if key not in _cache:
        url = f"{os.environ['SWEEP_API_URL']}/api/v1{path}?" + urllib.parse.urlencode(
            {**filters, "limit": 1}, doseq=True)
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {os.environ['SWEEP_API_TOKEN']}"})
        try:
            with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (the test's own server)
                _cache[key] = json.load(response).get("next_cursor")
        except (OSError, ValueError):  # the filters themselves are refused: no cursor to give
            _cache[key] = None
    return _cache[key]


@schemathesis.hook
def map_case(context, case):
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive or not case.query:
        return case
    if case.operation.path == "/audit-logs" and "resource_id" in case.query:
        case.query.setdefault("resource_type", "user")
    for name in CURSOR_PARAMETERS:
        if name in case.query:
            real = _real_cursor(case.operation.path, case.query, name)
            if real is None:
                del case.query[name]
            else:
                case.query[name] = real
    return case
