"""Every registered route, for every role: the expected outcome.

A new route fails this test until its expected outcome is added to MATRIX, and a
view without an access declaration fails ``test_every_view_declares_access``.
"""

from __future__ import annotations

import pytest

from app.security.access import UndeclaredAccess, access_rule, public
from app.users.models import Role

ROLES = ("anonymous", "customer", "institution_admin", "admin", "superadmin")

OK, LOGIN, FORBIDDEN = "ok", "login", "forbidden"
ALL_OK = dict.fromkeys(ROLES, OK)
SIGNED_IN = {**ALL_OK, "anonymous": LOGIN}
STAFF = {**SIGNED_IN, "customer": FORBIDDEN}
SUPERADMIN_ONLY = {**STAFF, "institution_admin": FORBIDDEN, "admin": FORBIDDEN}

# endpoint -> expected outcome per role (for every method the rule accepts)
MATRIX: dict[str, dict[str, str]] = {
    "static": ALL_OK,
    "auth.index": {**ALL_OK, "anonymous": LOGIN},  # public, but it sends visitors to sign in
    "auth.login": ALL_OK,
    "auth.logout": SIGNED_IN,
    "auth.account": SIGNED_IN,
    "auth.change_password": SIGNED_IN,
    "auth.step_up": SIGNED_IN,
    "dashboard.index": STAFF,
    "health.healthz": ALL_OK,
    "health.readyz": ALL_OK,
    "i18n.switch_language": ALL_OK,
    # Backups: superadmins only; download and restore first ask for step-up (a redirect, "ok").
    "backups.index": SUPERADMIN_ONLY,
    "backups.create": SUPERADMIN_ONLY,
    "backups.verify": SUPERADMIN_ONLY,
    "backups.drill": SUPERADMIN_ONLY,
    "backups.download": SUPERADMIN_ONLY,
    "backups.restore": SUPERADMIN_ONLY,
    "backups.job_status": {**SUPERADMIN_ONLY, "superadmin": "missing"},  # the sample job does not exist
}

SAMPLE_ARGS = {"filename": "css/app.css", "backup_id": "20260101T000000Z-abcdef", "job_id": "20260101T000000-abcdef12"}


def outcome(response) -> str:
    if response.status_code in (301, 302, 303) and response.headers["Location"].startswith("/login"):
        return LOGIN
    if response.status_code == 403:
        return FORBIDDEN
    if response.status_code == 404:
        return "missing"
    if response.status_code >= 500:
        return f"error {response.status_code}"
    return OK


def requests_to_make(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            url = rule.build({a: SAMPLE_ARGS[a] for a in rule.arguments})[1]
            yield rule.endpoint, method, url


def test_every_route_is_in_the_matrix(app):
    unknown = sorted({endpoint for endpoint, _m, _u in requests_to_make(app)} - set(MATRIX))
    assert not unknown, f"add the expected access of these endpoints to MATRIX: {unknown}"
    stale = sorted(set(MATRIX) - {rule.endpoint for rule in app.url_map.iter_rules()})
    assert not stale, f"MATRIX names endpoints that no longer exist: {stale}"


def test_every_view_declares_access(app):
    undeclared = sorted(name for name, view in app.view_functions.items() if access_rule(view) is None)
    assert not undeclared, f"views without @public / @signed_in / @requires: {undeclared}"


@pytest.mark.parametrize("role", ROLES)
def test_matrix(app, role, make_user, client_for):
    user = None if role == "anonymous" else make_user(Role(role))
    failures = []
    for endpoint, method, url in requests_to_make(app):
        # A fresh session per request: a sign-out probe must not affect the next one.
        probe = app.test_client() if user is None else client_for(user)
        response = probe.open(url, method=method)
        got, expected = outcome(response), MATRIX[endpoint][role]
        if got != expected:
            failures.append(f"{method} {url} ({endpoint}) as {role}: expected {expected}, got {got} "
                            f"[{response.status_code}]")
        response.close()
    assert not failures, "\n".join(failures)


def test_undeclared_route_is_refused(app_config):
    from app import create_app

    strict = create_app(app_config)

    @strict.get("/undeclared")
    def undeclared():
        return "should never be served"

    @strict.get("/declared")
    @public
    def declared():
        return "fine"

    strict.config["PROPAGATE_EXCEPTIONS"] = True
    client = strict.test_client()
    assert client.get("/declared").status_code == 200
    with pytest.raises(UndeclaredAccess):
        client.get("/undeclared")


def test_declaring_twice_is_an_error():
    def view():
        return ""

    public(view)
    with pytest.raises(UndeclaredAccess):
        public(view)
