"""The route sweep's request loop (test_route_sweep.py): one role's clients, each request
checked (no server error; a refusal, or any GET, changes nothing), failures collected."""

from __future__ import annotations

import hashlib
import itertools
import time

from flask.sessions import session_json_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db as _db
from app.security.sessions import session_key
from tests.integration import sweep_support as sweep

SWEEP = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                 # The database and the users are made once per role, outside the examples, on purpose.
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
# GETs that write on purpose when they succeed, and what: nothing else may change on a GET.
GET_WRITES = {
    "audit.export_entries": {"audit_logs"},  # an export of the audit log is itself audited
    "api.audit_log_list": {"audit_logs"},  # API pulls of the audit log: one entry per token and hour
}
_sids = itertools.count()


def new_client(app, user, pending_user):
    """A client with a session of its own: signed in as ``user`` and stepped up a moment ago,
    or (anonymous) half-way through a sign-in that waits for ``pending_user``'s second factor."""
    now = time.time()
    data = ({"_user_id": str(user.id), "_fresh": True, "stepped_up_at": now} if user
            else {"pending_sign_in": {"user_id": pending_user.id, "since": now, "next": ""}})
    sid = hashlib.sha256(f"sweep-{now}-{next(_sids)}".encode()).hexdigest()
    app.session_interface.store.save(session_key(sid), {"data": session_json_serializer.dumps(data), "meta": {
        "created": now, "last_seen": now, "user_id": user.id if user else None, "ip": "127.0.0.1",
        "user_agent": "sweep"}}, ttl=600)
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], sid)
    return client


def refusal(response, body: str) -> bool:
    """A 4xx, a form shown again with its errors, or a detour to sign-in or step-up."""
    location = response.headers.get("Location", "")
    return (response.status_code >= 400 or 'aria-invalid="true"' in body
            or location.startswith(("/login?next=", "/step-up")))


def where_raised(exc: BaseException) -> str:
    """The innermost line of the portal's own code in the traceback."""
    where, frame = "?", exc.__traceback__
    while frame:
        name = frame.tb_frame.f_code.co_filename
        if "/app/" in name and "site-packages" not in name:
            where = f"app/{name.rsplit('/app/', 1)[1]}:{frame.tb_lineno}"
        frame = frame.tb_next
    return where


class Sweep:
    """One role's sweep: sends requests, checks each answer, collects the failures."""

    def __init__(self, app, user, pending_user, role: str):
        self.app, self.user, self.pending_user, self.role = app, user, pending_user, role
        self.sql = sweep.fingerprint_sql([t.name for t in _db.metadata.sorted_tables])
        self.adapter = app.url_map.bind("localhost")
        self.failures: dict[tuple, str] = {}
        self.visited: set[str] = set()
        self._state = None  # the fingerprint after the last request, while it is known

    def endpoint_of(self, path: str, method: str = "GET") -> str | None:
        try:
            return self.adapter.match(path, method=method)[0]
        except Exception:
            return None

    def client(self):
        return new_client(self.app, self.user, self.pending_user)

    def reset_counters(self) -> None:
        """Rate limits would turn most of a route's examples into 429s: each route starts with none."""
        from app.extensions import limiter
        from app.security.limiting import EXTENSION_KEY

        store = self.app.extensions[EXTENSION_KEY]
        store.shared.reset()
        store.local.reset()
        limiter.reset()

    def send(self, endpoint, method, url, *, client=None, **kwargs):
        """Send one request; returns (response, body, refused), or None after a server error."""
        self.visited.add(endpoint)
        client = client or self.client()
        before = self._state or sweep.fingerprint(_db.session, self.sql)
        self._state = None
        try:
            response = client.open(url, method=method, buffered=True, **kwargs)
        except Exception as exc:  # TESTING propagates what would have been a 500
            _db.session.rollback()
            self.record(endpoint, method, url, kwargs, f"{type(exc).__name__} at {where_raised(exc)}",
                        str(exc)[:160])
            return None
        binary = not (response.mimetype.startswith("text/") or response.is_json)  # the favicon, a download
        body = "" if binary else response.get_data(as_text=True)
        response.close()
        if response.status_code >= 500:
            self.record(endpoint, method, url, kwargs, f"status {response.status_code}")
        refused = refusal(response, body if response.mimetype == "text/html" else "")
        if method == "GET" or refused:
            self._state = after = sweep.fingerprint(_db.session, self.sql)
            changed = set(sweep.changed_tables(before, after))
            if changed and (refused or method != "GET" or not changed <= GET_WRITES.get(endpoint, set())):
                what = "GET" if method == "GET" and not refused else f"refusal ({response.status_code})"
                self.record(endpoint, method, url, kwargs, f"{what} changed {sorted(changed)}")
        return response, body, refused

    def record(self, endpoint, method, url, kwargs, problem, detail=""):
        """Keep the first example of each (route, problem)."""
        shown = {k: str(v)[:200] for k, v in kwargs.items() if k in ("data", "json")}
        self.failures.setdefault((endpoint, problem),
                                 f"{self.role} {method} {url[:300]} {shown} -> {problem} {detail}".rstrip())

    def fuzz(self, examples: int, body) -> None:
        """Run ``body(draw)`` for ``examples`` Hypothesis examples. Failures are collected, not
        raised, so that one route's server error does not hide another's."""
        self.reset_counters()

        @settings(SWEEP, max_examples=examples)
        @given(st.data())
        def run(data):
            body(data.draw)

        run()


def fields_strategy(fields: dict[str, list[str]]):
    """Query or form pairs: every field (most of the time) with an offered or hostile value,
    and some fields twice."""
    names = sorted(fields)

    @st.composite
    def pairs(draw):
        # "not booleans()": Hypothesis's first, simplest example sends every field.
        chosen = [(n, draw(sweep.value_for(n, fields[n]))) for n in names if not draw(st.booleans())]
        extra = draw(st.lists(st.sampled_from(names), max_size=2)) if names else []
        return chosen + [(n, draw(sweep.value_for(n, fields[n]))) for n in extra]

    return pairs()
