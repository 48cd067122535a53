"""GET requests never change state: every GET route, for every role, writes no row.

A listener on the engine records each INSERT, UPDATE or DELETE sent while a GET (or HEAD)
request is being handled. The only writes a GET may cause are the bookkeeping listed in
ALLOWED_GET_WRITES, each with its reason; anything else fails with the route and the SQL.
"""

from __future__ import annotations

import re
import secrets
import time
from contextlib import contextmanager

import pytest
from flask import has_request_context, request
from flask.sessions import session_json_serializer
from sqlalchemy import event

from app.extensions import db as _db
from app.security.sessions import session_key
from app.users.models import Role
from tests.unit.test_permission_matrix import ROLES, SAMPLE_ARGS

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE|TRUNCATE|CREATE|DROP|ALTER)\b(?:\s+INTO|\s+FROM)?\s+"
                   r"\"?(\w+)", re.I)

# (endpoint, table) -> why a GET of that endpoint may write that table. Besides these, the first
# request of an impersonating session after its time ran out closes it (impersonations and its
# audit entry): app.users.impersonation_guard.enforce; this sweep has no impersonation.
ALLOWED_GET_WRITES = {
    ("audit.export_entries", "audit_logs"): "exporting the audit log is itself audited (AUDIT_EXPORT)",
    ("api.audit_log_list", "audit_logs"): "API pulls of the audit log are audited, once per token and hour",
}


@contextmanager
def writes_during_gets(engine):
    """Collect (method, path, statement) for every write sent while a GET/HEAD is handled."""
    seen: list[tuple[str, str, str]] = []

    def before_cursor_execute(_conn, _cursor, statement, _parameters, _context, _executemany):
        if has_request_context() and request.method in ("GET", "HEAD") and WRITE.match(statement):
            seen.append((request.method, request.full_path, " ".join(statement.split())[:300]))

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)


@pytest.fixture
def signed_in_and_stepped_up(app):
    """A client signed in as ``user`` whose last step-up is fresh (so step-up pages render)."""

    def factory(user):
        sid = secrets.token_urlsafe(32)
        now = time.time()
        data = {"_user_id": str(user.id), "_fresh": True, "stepped_up_at": now}
        record = {"data": session_json_serializer.dumps(data),
                  "meta": {"created": now, "last_seen": now, "user_id": user.id, "ip": "127.0.0.1",
                           "user_agent": "test"}}
        app.session_interface.store.save(session_key(sid), record, ttl=600)
        client = app.test_client()
        client.set_cookie(app.config["SESSION_COOKIE_NAME"], sid)
        return client

    return factory


def get_urls(app, rows: dict[str, object]) -> list[tuple[str, str]]:
    """(endpoint, url) of every GET route, with real rows where the route takes an id."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        urls.append((rule.endpoint, rule.build({a: rows.get(a, SAMPLE_ARGS[a]) for a in rule.arguments})[1]))
    return sorted(urls)


@pytest.mark.parametrize("role", ROLES)
def test_no_get_route_writes_to_the_database(app, db, role, make_user, make_institution, make_customer,
                                             make_transaction, make_approval, signed_in_and_stepped_up):
    bank = make_institution()
    customer = make_customer(bank)
    transaction = make_transaction(customer)
    approval = make_approval(bank)
    someone = make_user(Role.CUSTOMER, institution=bank)
    user = None if role == "anonymous" else make_user(Role(role), institution=bank
                                                      if role in ("institution_admin", "customer") else None)
    privacy_request, confirmation_token = open_privacy_request(customer)
    db.session.commit()
    rows = {"institution_id": bank.id, "customer_id": customer.id, "transaction_id": transaction.id,
            "approval_id": approval.id, "user_id": someone.id, "request_id": privacy_request.id,
            "token": confirmation_token, "ref_id": customer.id}
    problems, statuses = [], {}
    with writes_during_gets(_db.engine) as seen:
        for endpoint, url in get_urls(app, rows):
            browser = app.test_client() if user is None else signed_in_and_stepped_up(user)
            before = len(seen)
            response = browser.get(url)
            statuses[endpoint] = response.status_code
            response.close()
            for _method, path, statement in seen[before:]:
                table = WRITE.match(statement).group(2).lower()
                if (endpoint, table) not in ALLOWED_GET_WRITES:
                    problems.append(f"GET {path} ({endpoint}) as {role} wrote {table}: {statement}")
    assert not problems, "\n".join(problems)
    assert not [e for e, status in statuses.items() if status >= 500], statuses
    if role == "superadmin":  # the pages that used to write were really rendered, not refused
        assert statuses["auth.totp_setup"] == 200
        assert statuses["privacy.export_new"] == 200  # the export's start page reads the person, writes nothing
    if role in ("superadmin", "privacy_officer"):
        assert statuses["privacy.request_detail"] == statuses["privacy.request_complete"] == 200
    assert statuses["privacy.confirm_link"] == 200  # the subject's page: opening the link confirms nothing


def open_privacy_request(customer):
    """A data-subject request with a confirmation link out; returns it and the link's token."""
    from app.database import utcnow
    from app.privacy import services as privacy
    from app.privacy import verification
    from app.security.actor import Actor

    system = Actor.system("test")
    req = privacy.register_request(system, subject_type="customer", subject_id=customer.id, kind="access",
                                   channel="email", jurisdiction="gdpr", received_at=utcnow())
    tokens = []
    verification.send_confirmation_link(system, req, link_for=lambda token: tokens.append(token) or token)
    return req, tokens[0]


def test_the_authenticator_setup_page_writes_no_row(app, db, make_user, signed_in_and_stepped_up):
    user = make_user(Role.ADMIN)
    db.session.commit()
    browser = signed_in_and_stepped_up(user)
    with writes_during_gets(_db.engine) as seen:
        for _ in range(2):
            page = browser.get("/account/two-factor/app")
            assert page.status_code == 200 and 'data-testid="totp-secret"' in page.get_data(as_text=True)
    assert seen == []
