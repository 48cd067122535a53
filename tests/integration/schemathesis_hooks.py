"""Schemathesis hooks (test_api_schemathesis.py): what OpenAPI 3.0 cannot say, given as real values.

- A cursor is opaque: only a ``next_cursor`` that the same list returned is valid, which no
  JSON Schema can say. For a *positive* case (one Schemathesis claims must be accepted) the
  generated cursor is replaced with one the server itself returned for the same list and
  filters, or left out when that list has no next page.
- /audit-logs takes resource_id only together with resource_type (parameters cannot depend
  on each other in OpenAPI 3.0): a positive case with resource_id alone gets a resource type.
- Ids in paths are made up, and a made-up customer or data-subject request is a 404: every other
  positive case of those paths gets the seeded row's id instead (SWEEP_REAL_IDS), so that the
  answers about a real row (a customer's consent, recording a choice, a request's timeline) are
  checked too.

Negative cases keep what Schemathesis made: a forged cursor must still be refused with 400.

The server and token come from SWEEP_API_URL and SWEEP_API_TOKEN (set by the test).

One workaround: CPython 3.11 counts the AST constructor's recursion in state that threads share,
so two workers parsing at once (Hypothesis parses modules' sources to describe the lambdas of
its strategies) fail now and then with "SystemError: AST constructor recursion depth mismatch"
(python/cpython#106905). Schemathesis loads these hooks before its workers start, so here
``ast.parse`` is made to take one source at a time.
"""

from __future__ import annotations

import ast
import json
import os
import threading
import urllib.parse
import urllib.request

import schemathesis

_parse, _parse_lock = ast.parse, threading.Lock()


def _one_parse_at_a_time(*args, **kwargs):
    with _parse_lock:
        return _parse(*args, **kwargs)


ast.parse = _one_parse_at_a_time

CURSOR_PARAMETERS = ("cursor", "after")  # /audit-logs names its cursor "after"
_cache: dict[tuple, str | None] = {}


def _real_cursor(path: str, query: dict, name: str) -> str | None:
    """The next_cursor of the first one-item page of ``path`` (path parameters filled in) with the same filters."""
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


_turns: dict[str, int] = {}


def _real_ids(case) -> None:
    """Every other positive case of a path with a seeded id gets that id."""
    real = json.loads(os.environ.get("SWEEP_REAL_IDS", "{}"))
    names = [name for name in (case.path_parameters or {}) if name in real]
    if names:
        turn = _turns[case.operation.label] = _turns.get(case.operation.label, 0) + 1
        if turn % 2:
            case.path_parameters.update({name: real[name] for name in names})


@schemathesis.hook
def map_case(context, case):
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return case
    _real_ids(case)
    if not case.query:
        return case
    if case.operation.path == "/audit-logs" and "resource_id" in case.query:
        case.query.setdefault("resource_type", "user")
    for name in CURSOR_PARAMETERS:
        if name in case.query:
            real = _real_cursor(case.formatted_path, case.query, name)
            if real is None:
                del case.query[name]
            else:
                case.query[name] = real
    return case
