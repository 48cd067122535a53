"""A property-based sweep of every route in ``app.url_map``, as every role, on PostgreSQL.

For each role it opens every page it may, learns the page's parameters (GET forms, links)
and its POST forms, and sends Hypothesis-drawn hostile values: control characters (NUL
first), unicode, very long text, extreme numbers, dates at the ends of the calendar,
repeated parameters, forged cursors. Routes no page links to (JSON endpoints, the API)
get the same values directly. It asserts: never a server error; a refusal (4xx, a form
shown again with errors, a detour to sign-in or step-up) changes nothing in the
database; a GET changes nothing at all.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from flask.sessions import session_json_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from app.extensions import db as _db
from app.security.sessions import session_key
from app.users.models import Role
from tests.integration import sweep_support as sweep
from tests.unit.test_permission_matrix import ROLES, SAMPLE_ARGS

pytestmark = pytest.mark.integration

GENERIC_PARAMS = ("cursor", "dir", "sort", "order", "format", "size", "q", "next")
SWEEP = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                 # The fixtures (one database per role) are set up once, outside the examples.
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
GET_EXAMPLES, POST_EXAMPLES = 10, 10
INVITATION, RESET = "sweep-invitation-link", "sweep-password-reset-link"


@pytest.fixture
def world(db, make_user, make_institution, make_customer, make_transaction, make_approval):
    """Rows for every URL variable, one user per role (all in one institution), links, tokens."""
    from app.api import tokens
    from app.database import utcnow
    from app.security.actor import Actor
    from app.users import services
    from app.users.models import AccountToken

    home = make_institution(name="Bank Sweep", code="SWEEP1")
    customer = make_customer(institution=home)
    users = {role: make_user(Role(role), institution=home) for role in ROLES if role != "anonymous"}
    victim = make_user(Role.CUSTOMER, institution=home, with_2fa=True)  # the user the staff pages act on
    invited = services.create_user(Actor.system("test"), email="invited@example.com", display_name="Invited",
                                   role=Role.CUSTOMER, institution_id=home.id, password=None)
    for user, plain, purpose in ((invited, INVITATION, "invitation"), (victim, RESET, "password_reset")):
        db.session.add(AccountToken(user_id=user.id, purpose=purpose, token_hash=hashlib.sha256(
            plain.encode()).hexdigest(), expires_at=utcnow() + timedelta(hours=1)))
    bearer = {}
    for role, user in users.items():
        if Role(role).is_staff:
            _token, bearer[role] = tokens.create_token(Actor.for_user(user), user, name="sweep", scope="write",
                                                       days=7)
    token_row = _token
    tx = make_transaction(customer=customer)
    approval = make_approval(institution=home, summary="Sweep refund")
    db.session.commit()
    args = {**SAMPLE_ARGS, "institution_id": home.id, "customer_id": customer.id, "transaction_id": tx.id,
            "approval_id": approval.id, "user_id": victim.id, "token_id": token_row.id,
            "resource_type": "user", "resource_id": str(victim.id), "entry_id": 1}
    return {"users": users, "victim": victim, "bearer": bearer, "args": args}


def new_client(app, user, victim):
    """A client with a session of its own: signed in as ``user`` and stepped up a moment ago,
    or (anonymous) half-way through a sign-in that waits for ``victim``'s second factor."""
    now = time.time()
    data = ({"_user_id": str(user.id), "_fresh": True, "stepped_up_at": now} if user
            else {"pending_sign_in": {"user_id": victim.id, "since": now, "next": ""}})
    sid = hashlib.sha256(f"{now}-{id(data)}".encode()).hexdigest()
    app.session_interface.store.save(session_key(sid), {"data": session_json_serializer.dumps(data), "meta": {
        "created": now, "last_seen": now, "user_id": user.id if user else None, "ip": "127.0.0.1",
        "user_agent": "sweep"}}, ttl=600)
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], sid)
    return client


class Sweep:
    """One role's sweep: sends requests, checks each answer, collects the failures."""

    def __init__(self, app, world, role):
        self.app, self.role = app, role
        self.user = world["users"].get(role)
        self.victim, self.args = world["victim"], world["args"]
        self.bearer = world["bearer"].get(role)
        self.sql = sweep.fingerprint_sql([t.name for t in _db.metadata.sorted_tables])
        self.adapter = app.url_map.bind("localhost")
        self.failures: dict[tuple, str] = {}
        self.visited: set[str] = set()

    def endpoint_of(self, path: str, method: str = "GET") -> str | None:
        try:
            return self.adapter.match(path, method=method)[0]
        except Exception:
            return None

    def client(self):
        return new_client(self.app, self.user, self.victim)

    def reset_counters(self) -> None:
        """Rate limits would turn most of the sweep into 429s; each route starts with none."""
        from app.extensions import limiter
        from app.security.limiting import EXTENSION_KEY

        store = self.app.extensions[EXTENSION_KEY]
        store.shared.reset()
        store.local.reset()
        limiter.reset()

    def send(self, endpoint, method, url, *, client=None, refusal_only=None, **kwargs):
        """Send one request; record a server error, or a change the answer does not allow."""
        self.visited.add(endpoint)
        client = client or self.client()
        before = sweep.fingerprint(_db.session, self.sql)
        try:
            response = client.open(url, method=method, buffered=True, **kwargs)
        except Exception as exc:  # TESTING propagates what would have been a 500
            _db.session.rollback()
            where = "?"
            frame = exc.__traceback__
            while frame:  # the innermost frame of the portal's own code
                name = frame.tb_frame.f_code.co_filename
                if "/app/" in name and "site-packages" not in name:
                    where = f"app/{name.rsplit('/app/', 1)[1]}:{frame.tb_lineno}"
                frame = frame.tb_next
            self.record(endpoint, method, url, kwargs, f"{type(exc).__name__} at {where}", str(exc)[:160])
            return None
        body = response.get_data(as_text=True)
        response.close()
        if response.status_code >= 500:
            self.record(endpoint, method, url, kwargs, f"status {response.status_code}")
        body = body if response.mimetype == "text/html" else ""
        location = response.headers.get("Location", "")
        refused = (response.status_code >= 400 or 'aria-invalid="true"' in body
                   or location.startswith(("/login", "/step-up")))
        if method == "GET" or refused:
            changed = sweep.changed_tables(before, sweep.fingerprint(_db.session, self.sql))
            if changed:
                self.record(endpoint, method, url, kwargs,
                            f"{'GET' if method == 'GET' else 'refusal ' + str(response.status_code)} "
                            f"changed {changed}")
        return response

    def record(self, endpoint, method, url, kwargs, problem, detail=""):
        """Keep the first example of each (route, problem)."""
        shown = {k: str(v)[:200] for k, v in kwargs.items() if k in ("data", "json")}
        self.failures.setdefault((endpoint, problem), f"{self.role} {method} {url[:300]} {shown} -> {problem} {detail}")

    def fuzz(self, examples, body) -> None:
        """Run ``body(draw)`` for ``examples`` Hypothesis examples (failures are collected, not raised,
        so one route's 500 does not hide another's)."""
        self.reset_counters()

        @settings(SWEEP, max_examples=examples)
        @given(st.data())
        def run(data):
            body(data.draw)

        run()


def fields_strategy(fields: dict[str, list[str]]):
    """Query or form pairs: every field (offered or hostile value), some twice."""
    names = sorted(fields)

    @st.composite
    def pairs(draw):
        chosen = [(n, draw(sweep.value_for(n, fields[n]))) for n in names if not draw(st.booleans())]
        extra = draw(st.lists(st.sampled_from(names), max_size=2)) if names else []
        return chosen + [(n, draw(sweep.value_for(n, fields[n]))) for n in extra]

    return pairs()


FORM_GUESSES = ("expected_version", "reason", "name", "email", "password", "code", "decision", "value", "role",
                "display_name", "next", "credential", "scope", "days")  # for POSTs no page shows a form of


def opened(response) -> bool:
    return response is not None and response.status_code < 400 and not response.headers.get(
        "Location", "").startswith("/login")


def api_parameters() -> dict[str, dict[str, list[str]]]:
    """Query parameters of each API endpoint, from the API's own OpenAPI document."""
    from app.api.openapi import PATHS, PREFIX

    found = {}
    for path, item in PATHS.items():
        for method, operation in item.items():
            if isinstance(operation, dict) and method == "get":
                names = {p["name"]: p.get("schema", {}).get("enum", []) for p in operation.get("parameters", [])
                         if p["in"] == "query"}
                found[PREFIX + path.replace("{", "<").replace("}", ">")] = names
    return found


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_a_server_error_or_changes_anything_on_refusal(app, db, world, role, monkeypatch):
    # Accepted backups and restores are queued on this suite's Redis db, where no worker runs:
    # a job thread would share the test's one database connection. The sweep is about requests.
    monkeypatch.setitem(app.config, "JOBS_BACKEND", "rq")
    s = Sweep(app, world, role)
    auth = {"Authorization": f"Bearer {s.bearer}"} if s.bearer else {}
    api_params = {rule.endpoint: api_parameters().get(rule.rule, {}) for rule in app.url_map.iter_rules()
                  if rule.endpoint.startswith("api.")}
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
    args = {"auth.accept_invitation": {"token": INVITATION}, "auth.reset_password": {"token": RESET}}
    urls = {r.endpoint: r.build({a: {**s.args, **args.get(r.endpoint, {})}[a] for a in r.arguments})[1] for r in rules}
    params: dict[str, dict[str, list[str]]] = {}
    forms: dict[tuple[str, str], tuple[str, sweep.Form]] = {}  # (endpoint, action) -> (page, form)

    def learn(name, pairs):
        known = params.setdefault(name, {})
        for key, value in pairs:
            offered = known.setdefault(key, [])
            if value not in offered and len(offered) < 20:
                offered.append(value)

    # 1. Every GET route as it is: learn what each page offers.
    gets = []
    for rule in (r for r in rules if "GET" in r.methods):
        api = rule.endpoint.startswith("api.")
        response = s.send(rule.endpoint, "GET", urls[rule.endpoint], headers=auth if api else {})
        if not opened(response):
            continue
        gets.append(rule)
        if response.mimetype != "text/html":
            continue
        page = sweep.parse_page(urls[rule.endpoint], response.get_data(as_text=True))
        for form in page.forms:
            path, query = sweep.query_of(form.action)
            target = s.endpoint_of(path, form.method.upper())
            if target and form.method == "get":
                learn(target, [(f.name, v) for f in form.fields.values() for v in f.values or [""]] + query)
            elif target:
                forms.setdefault((target, form.action), (urls[rule.endpoint], form))
        for href in page.links:
            path, query = sweep.query_of(href)
            if (target := s.endpoint_of(path)) and query:
                learn(target, query)

    # 2. GET parameters: what the pages offered, the generic ones, hostile values.
    for rule in gets:
        if rule.endpoint == "static":
            continue  # files from static/ are served whatever the query says
        api = rule.endpoint.startswith("api.")
        fields = {n: list(v) for n, v in (api_params[rule.endpoint] if api else params.get(rule.endpoint, {})).items()}
        for name in GENERIC_PARAMS:
            fields.setdefault(name, [])
        strategy = fields_strategy(fields)
        s.fuzz(GET_EXAMPLES, lambda draw, rule=rule, strategy=strategy, api=api: s.send(
            rule.endpoint, "GET", urls[rule.endpoint] + "?" + urlencode(draw(strategy)),
            headers=auth if api else {}))

    # 3. POST forms, each read afresh from its page (CSRF token, current expected_version).
    for (target, action), (page_url, form) in sorted(forms.items()):
        fields = {n: f.values for n, f in form.fields.items() if n != "csrf_token"}
        files = [n for n, f in form.fields.items() if f.kind == "file"]
        strategy = fields_strategy(fields)

        def post_form(draw, target=target, action=action, page_url=page_url, form=form, strategy=strategy, files=files):
            client = s.client()
            page = client.get(page_url)
            current = next((f for f in sweep.parse_page(page_url, page.get_data(as_text=True)).forms
                            if f.action == action), None)
            if current is None:  # an accepted earlier post took it away (a revoked token, say)
                current = form
            token = current.fields.get("csrf_token")
            pairs = [("csrf_token", token.values[0])] if token and token.values else []
            data = {}
            for key, value in pairs + draw(strategy):
                data.setdefault(key, []).append(value)
            for name in files:
                data[name] = [(__import__("io").BytesIO(v.encode()), "customers.csv") for v in data.get(name, [""])]
            s.send(target, "POST", action, client=client, data=data,
                   content_type="multipart/form-data" if current.multipart or files else None)

        s.fuzz(POST_EXAMPLES, post_form)

    # 4. Routes no page of this role leads to: sent directly (JSON endpoints, the API, forbidden ones).
    for rule in rules:
        methods = sorted(rule.methods - {"GET", "HEAD", "OPTIONS"})
        for method in methods:
            if any(t == rule.endpoint for t, _a in forms):
                continue
            api = rule.endpoint.startswith("api.")
            first = s.send(rule.endpoint, method, urls[rule.endpoint], headers=auth if api else {})
            if first is None or first.status_code in (401, 403, 404) or first.headers.get(
                    "Location", "").startswith("/login"):
                continue
            strategy = fields_strategy(dict.fromkeys(FORM_GUESSES, []))

            def post_direct(draw, rule=rule, method=method, api=api, strategy=strategy):
                client = s.client()
                token = "" if api else sweep.csrf_of(client.get("/account" if s.user else "/login"))
                pairs = draw(strategy)
                as_json = api or draw(st.booleans())
                headers = {**(auth if api else {}), "X-CSRFToken": token}
                body = {"json": dict(pairs)} if as_json else {"data": MultiDict([("csrf_token", token), *pairs])}
                s.send(rule.endpoint, method, urls[rule.endpoint], client=client, headers=headers, **body)

            s.fuzz(POST_EXAMPLES // 2, post_direct)

    missing = sorted({r.endpoint for r in rules} - s.visited)
    assert not missing, f"the sweep never visited: {missing}"
    assert not s.failures, f"{len(s.failures)} failure(s) as {role}:\n" + "\n".join(sorted(s.failures.values()))
