"""A property-based sweep of every route in ``app.url_map``, as every role, on PostgreSQL.

For each role it opens every page it may, learns the page's parameters (GET forms, links)
and its POST forms, and sends Hypothesis-drawn hostile values: control characters (NUL
first), unicode, very long text, extreme numbers, dates at the ends of the calendar,
repeated parameters, forged cursors. Routes no page leads to (JSON endpoints, the API,
what the role may not use) get the same values directly. It asserts: never a server
error; a refusal (4xx, a form shown again with errors, a detour to sign-in or step-up)
changes nothing in the database; a GET changes nothing (sweep_runner.GET_WRITES names the
two audited reads). Failures are collected and listed together, one example per route
and problem (sweep_runner.Sweep.record).
"""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from app.users.models import Role
from tests.integration import sweep_support as sweep
from tests.integration.sweep_runner import Sweep, fields_strategy
from tests.unit.test_get_writes_nothing import open_privacy_request
from tests.unit.test_permission_matrix import ROLES, SAMPLE_ARGS

pytestmark = pytest.mark.integration

GENERIC_PARAMS = ("cursor", "dir", "sort", "order", "format", "size", "q", "next")
GET_EXAMPLES, POST_EXAMPLES, DIRECT_EXAMPLES = 8, 5, 4
INVITATION, RESET = "sweep-invitation-link", "sweep-password-reset-link"


@pytest.fixture
def world(db, make_user, make_institution, make_customer, make_transaction, make_approval):
    """Rows for every URL variable, one user per role (all in one institution), open links, API tokens."""
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
        if tokens.may_hold_tokens(user):
            token, bearer[role] = tokens.create_token(Actor.for_user(user), user, name="sweep", scope="write", days=7)
    tx = make_transaction(customer=customer)
    approval = make_approval(institution=home, summary="Sweep refund")
    privacy_request, confirmation = open_privacy_request(customer)
    db.session.commit()
    args = {**SAMPLE_ARGS, "institution_id": home.id, "customer_id": customer.id, "transaction_id": tx.id,
            "approval_id": approval.id, "user_id": victim.id, "token_id": token.id,
            "resource_type": "user", "resource_id": str(victim.id), "entry_id": 1, "request_id": privacy_request.id}
    return {"users": users, "victim": victim, "bearer": bearer, "args": args,
            "urls": {"auth.accept_invitation": {"token": INVITATION}, "auth.reset_password": {"token": RESET},
                     "privacy.confirm_link": {"token": confirmation}}}


FORM_GUESSES = ("expected_version", "reason", "name", "email", "password", "code", "decision", "value", "role",
                "display_name", "next", "credential", "scope", "days")  # for POSTs no page shows a form of


def opened(sent) -> bool:
    """The role may use the page (it may still want parameters: a bare export answers 400)."""
    return sent is not None and sent[0].status_code not in (401, 403, 404, 405) and not sent[0].headers.get(
        "Location", "").startswith("/login")


def api_parameters() -> dict[str, dict[str, list[str]]]:
    """Query parameters of each API route (as url_map spells it), from the API's OpenAPI document."""
    from app.api.openapi import PATHS, PREFIX

    found = {}
    for path, item in PATHS.items():
        operation = item.get("get")
        if isinstance(operation, dict):
            found[PREFIX + path.replace("{", "<int:").replace("}", ">")] = {
                p["name"]: [str(v) for v in p.get("schema", {}).get("enum", [])]
                for p in operation.get("parameters", []) if p["in"] == "query"}
    return found


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_a_server_error_or_changes_anything_on_refusal(app, db, world, role, monkeypatch):
    # Accepted backups and restores are queued on this suite's Redis db, where no worker runs:
    # a job thread would share the test's one database connection. The sweep is about requests.
    monkeypatch.setitem(app.config, "JOBS_BACKEND", "rq")
    s = Sweep(app, world["users"].get(role), world["victim"], role)
    bearer = world["bearer"].get(role)
    auth = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
    values = {r.endpoint: {**world["args"], **world["urls"].get(r.endpoint, {})} for r in rules}
    urls = {r.endpoint: r.build({a: values[r.endpoint][a] for a in r.arguments})[1] for r in rules}
    api_params = api_parameters()
    params: dict[str, dict[str, list[str]]] = {r.endpoint: api_params.get(r.rule, {}) for r in rules}
    forms: dict[tuple[str, str], tuple[str, sweep.Form]] = {}  # (endpoint, action) -> (page's endpoint, form)

    def headers_for(endpoint):
        return auth if endpoint.startswith("api.") else {}

    def learn(endpoint, pairs):
        known = params.setdefault(endpoint, {})
        for key, value in pairs:
            offered = known.setdefault(key, [])
            if value not in offered and len(offered) < 20:
                offered.append(value)

    # 1. Every GET route as it is; learn what each page offers.
    gets = []
    for rule in (r for r in rules if "GET" in r.methods):
        sent = s.send(rule.endpoint, "GET", urls[rule.endpoint], headers=headers_for(rule.endpoint))
        if not opened(sent):
            continue
        gets.append(rule.endpoint)
        page = sweep.parse_page(urls[rule.endpoint], sent[1] if sent[0].mimetype == "text/html" else "")
        for form in page.forms:
            path, query = sweep.query_of(form.action)
            target = s.endpoint_of(path, form.method.upper())
            if target and form.method == "get":
                learn(target, [(f.name, v) for f in form.fields.values() for v in f.values or [""]] + query)
            elif target:
                forms.setdefault((target, form.action), (rule.endpoint, form))
        for href in page.links:
            path, query = sweep.query_of(href)
            if (target := s.endpoint_of(path)) and query:
                learn(target, query)
        own = next((f for f in page.forms if f.method == "get" and s.endpoint_of(
            sweep.query_of(f.action)[0]) == rule.endpoint), None)
        if own:  # filtered once: links that carry the filter (exports, pager, sort) show their keys
            query = urlencode([(n, "2026-01-15" if sweep.plausible(f, 0) == "2026-01-15" else (f.values or [""])[0])
                               for n, f in own.fields.items()])  # dates filled, the rest as offered
            again = s.send(rule.endpoint, "GET", urls[rule.endpoint] + "?" + query)
            for href in sweep.parse_page("", again[1] if again else "").links:
                path, query = sweep.query_of(href)
                if (target := s.endpoint_of(path)) and query:
                    learn(target, query)

    # 2. GET parameters: the ones pages offered (the API's: its OpenAPI document) and the generic ones.
    for endpoint in gets:
        if endpoint == "static":
            continue  # files under static/ are served whatever the query says
        strategy = fields_strategy({**dict.fromkeys(GENERIC_PARAMS, []), **params.get(endpoint, {})})
        s.fuzz(GET_EXAMPLES, lambda draw, e=endpoint, strategy=strategy: s.send(
            e, "GET", urls[e] + "?" + urlencode(draw(strategy)), headers=headers_for(e)))

    # 3. POST forms, read from their page (CSRF token, current hidden values such as
    #    expected_version; read again after a post that was not refused). First NUL, then 5000
    #    characters, in each field in turn; then Hypothesis: one hostile field among plausible
    #    ones, or every field drawn.
    for (target, action), (page_endpoint, form) in sorted(forms.items()):
        names = sorted(n for n in form.fields if n != "csrf_token")
        held = {}

        def submit(choice, target=target, action=action, page_endpoint=page_endpoint, form=form, held=held,
                   names=names):
            if not held:
                held["client"] = s.client()
                sent = s.send(page_endpoint, "GET", urls[page_endpoint], client=held["client"])
                held["form"] = next((f for f in sweep.parse_page(action, sent[1] if sent else "").forms
                                     if f.action == action), form)  # gone: taken away by an accepted post
            current = held["form"]
            token = current.fields.get("csrf_token")
            data = MultiDict([("csrf_token", token.values[0])] if token and token.values else [])
            if choice[0] == "one":
                pairs = [(n, choice[2] if n == choice[1] else sweep.plausible(current.fields[n], len(s.visited)))
                         for n in current.fields if n != "csrf_token" and (n in names or n == choice[1])]
            else:
                pairs = choice[1]
            for key, value in pairs:
                kind = current.fields[key].kind if key in current.fields else "text"
                data.add(key, (io.BytesIO(value.encode()), "customers.csv") if kind == "file" else value)
            sent = s.send(target, "POST", action, client=held["client"], data=data,
                          content_type="multipart/form-data" if current.multipart else None)
            if not sent or not sent[2]:
                held.clear()  # it may have changed the session or the page: start afresh

        for name in names:
            for probe in ("\x00", "y" * 5000):
                submit(("one", name, probe))
        one = st.sampled_from(names).flatmap(lambda n: sweep.hostile(n).map(lambda v, n=n: ("one", n, v)))
        wild = fields_strategy({n: f.values for n, f in form.fields.items() if n != "csrf_token"})
        strategy = st.one_of(one, wild.map(lambda pairs: ("all", pairs))) if names else st.just(("all", []))
        s.fuzz(POST_EXAMPLES, lambda draw, submit=submit, strategy=strategy: submit(draw(strategy)))

    # 4. Other methods no page of this role offers a form for: JSON endpoints, the API, what the
    #    role may not use (one request when it is refused outright), with form and JSON bodies.
    posted = {t for t, _a in forms}
    guesses = dict.fromkeys(FORM_GUESSES, [])
    for rule in rules:
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            if rule.endpoint in posted:
                continue
            first = s.send(rule.endpoint, method, urls[rule.endpoint], headers=headers_for(rule.endpoint))
            if not first or first[0].status_code in (401, 403, 404, 405) or first[0].headers.get(
                    "Location", "").startswith("/login"):
                continue

            def post_direct(draw, endpoint=rule.endpoint, method=method, strategy=fields_strategy(guesses)):
                client = s.client()
                api = endpoint.startswith("api.")
                page = None if api else s.send("auth.account" if s.user else "auth.login", "GET",
                                               "/account" if s.user else "/login", client=client)
                token = sweep.csrf_of(page[1]) if page else ""
                pairs = draw(strategy)
                body = ({"json": dict(pairs)} if api or draw(st.booleans())
                        else {"data": MultiDict([("csrf_token", token), *pairs])})
                s.send(endpoint, method, urls[endpoint], client=client,
                       headers={**headers_for(endpoint), "X-CSRFToken": token}, **body)

            s.fuzz(DIRECT_EXAMPLES, post_direct)

    missing = sorted({r.endpoint for r in rules} - s.visited)
    assert not missing, f"the sweep never visited: {missing}"
    assert not s.failures, f"{len(s.failures)} failure(s) as {role}:\n" + "\n".join(sorted(s.failures.values()))
