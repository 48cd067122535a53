"""Every registered route, for every role: the expected outcome.

A new route fails this test until its expected outcome is added to MATRIX, and a
view without an access declaration fails ``test_every_view_declares_access``.
"""

from __future__ import annotations

import pytest

from app.security.access import UndeclaredAccess, access_rule, public
from app.users.models import Role

ROLES = ("anonymous", "customer", "institution_admin", "admin", "superadmin", "privacy_officer")

OK, LOGIN, FORBIDDEN = "ok", "login", "forbidden"
ALL_OK = dict.fromkeys(ROLES, OK)
SIGNED_IN = {**ALL_OK, "anonymous": LOGIN}
# The staff portal: privacy officers reach only the privacy pages and the audit log (least privilege).
STAFF = {**SIGNED_IN, "customer": FORBIDDEN, "privacy_officer": FORBIDDEN}
AUDIT_READERS = {**STAFF, "privacy_officer": OK}
API_USERS = {**STAFF, "privacy_officer": OK}  # staff who may hold API tokens: privacy officers too
MISSING = "missing"
STAFF_ROW = {**STAFF, "institution_admin": MISSING, "admin": MISSING, "superadmin": MISSING}  # sample id: no row
SUPER = {**STAFF, "institution_admin": FORBIDDEN, "admin": FORBIDDEN}
SUPPORT = {**STAFF, "institution_admin": FORBIDDEN}  # superadmins and admins
# Sample ids name no row, so roles that pass the access check get a 404 ("missing");
# tests/unit/test_console_scoping.py covers real rows of one's own and of other
# institutions. POSTs without a CSRF token get 400 ("ok": past the access check).
MANAGERS = SUPPORT  # superadmin and admin
MANAGERS_ROW = {**MANAGERS, "admin": MISSING, "superadmin": MISSING}
SUPERADMIN_ONLY = {**MANAGERS, "admin": FORBIDDEN}
PRIVACY = {**SUPERADMIN_ONLY, "privacy_officer": OK}
PRIVACY_ROW = {**PRIVACY, "superadmin": MISSING, "privacy_officer": MISSING}
TOKEN = "token"  # noqa: S105 (401: a bearer token is needed, a session never counts)
BEARER = dict.fromkeys(ROLES, TOKEN)

# endpoint -> expected outcome per role (for every method the rule accepts)
MATRIX: dict[str, dict[str, str]] = {
    "static": ALL_OK,
    "favicon": ALL_OK,
    "pwa.manifest": ALL_OK,
    "pwa.service_worker": ALL_OK,
    "pwa.offline": ALL_OK,
    "push.subscribe": SIGNED_IN,
    "push.unsubscribe": SIGNED_IN,
    "push.remove": SIGNED_IN,
    "push.send_test": SIGNED_IN,
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
    # identity and access
    "auth.two_factor_challenge": {**ALL_OK, "anonymous": LOGIN},  # no pending sign-in: back to the password
    "auth.two_factor_verify": ALL_OK,
    "auth.two_factor_backup": ALL_OK,
    "auth.passkey_login_options": ALL_OK,
    "auth.passkey_login_verify": ALL_OK,
    "auth.step_up_passkey_options": SIGNED_IN,
    "auth.step_up_passkey_verify": SIGNED_IN,
    "auth.passkey_register_options": SIGNED_IN,
    "auth.passkey_register": SIGNED_IN,
    "auth.passkey_new": SIGNED_IN,
    "auth.passkey_remove": SIGNED_IN,
    "auth.security": SIGNED_IN,
    "auth.two_factor_required": SIGNED_IN,
    "auth.totp_setup": SIGNED_IN,
    "auth.totp_remove": SIGNED_IN,
    "auth.backup_codes_new": SIGNED_IN,
    "auth.backup_codes_regenerate": SIGNED_IN,
    "auth.sessions": SIGNED_IN,
    "auth.end_sessions": SIGNED_IN,
    "auth.forgot_password": ALL_OK,
    "auth.reset_password": ALL_OK,  # an unknown link answers 410 with an explanation
    "auth.accept_invitation": ALL_OK,
    "users.index": STAFF,
    "users.new": STAFF,
    "users.detail": STAFF_ROW,
    "users.edit": STAFF_ROW,
    "users.update": STAFF,  # refused for the missing CSRF token before the row is looked up
    "users.deactivate": STAFF,
    "users.reactivate": STAFF,
    "users.resend_invitation": STAFF,
    "users.revoke_invitation": STAFF,
    "users.send_password_reset": STAFF,
    "users.end_sessions": SUPER,
    "users.reset_two_factor": SUPER,  # step-up first
    "users.unlock_two_factor": SUPER,
    "users.impersonate": SUPPORT,  # step-up first
    "users.stop_impersonation": SIGNED_IN,
    # operations console
    "platform.institutions": STAFF,
    "platform.institution_detail": STAFF_ROW,
    "platform.institution_create": MANAGERS,
    "platform.institution_edit": MANAGERS_ROW,
    "platform.institution_update": MANAGERS,
    "platform.institution_deactivate": MANAGERS,  # step-up first: the row is looked up after it
    "platform.institution_reactivate": MANAGERS,
    "platform.institution_admin_assign": MANAGERS,
    "platform.institution_admin_remove": MANAGERS,
    "platform.customers": STAFF,
    "platform.customer_detail": STAFF_ROW,
    "platform.customer_edit": STAFF_ROW,
    "platform.customer_update": STAFF,
    "platform.customer_import": STAFF,
    "platform.customer_import_preview": STAFF_ROW,
    "platform.customer_import_confirm": STAFF,
    "platform.customer_import_discard": STAFF,
    "platform.transactions": STAFF,
    "platform.transaction_detail": STAFF_ROW,
    "platform.transaction_decide": STAFF,
    "platform.approvals": STAFF,
    "platform.approval_detail": STAFF_ROW,
    "platform.approval_decide": STAFF,
    "platform.approvals_bulk_approve": STAFF,
    "settings.index": SUPERADMIN_ONLY,
    "settings.edit": SUPERADMIN_ONLY,
    "settings.history": SUPERADMIN_ONLY,
    # Audit log. Entry 1 is the audit entry of the probing user's own creation (each test
    # starts from an empty, rolled-back table), so it is visible to every staff role;
    # tests/unit/test_audit_pages.py covers other institutions' entries by id.
    "audit.index": AUDIT_READERS,
    "audit.detail": AUDIT_READERS,
    "audit.resource_history": AUDIT_READERS,
    "audit.actor_history": AUDIT_READERS,
    "audit.export_entries": AUDIT_READERS,
    # backups: superadmins only; download and restore first ask for step-up (a redirect, "ok")
    "backups.index": SUPERADMIN_ONLY,
    "backups.create": SUPERADMIN_ONLY,
    "backups.verify": SUPERADMIN_ONLY,
    "backups.drill": SUPERADMIN_ONLY,
    "backups.download": SUPERADMIN_ONLY,
    "backups.restore": SUPERADMIN_ONLY,
    "jobs.status": {**dict.fromkeys(ROLES, MISSING), "anonymous": LOGIN},  # the sample job does not exist
    # the JSON API: the API answers 401 to every session, whatever its role
    "metrics.scrape": BEARER,
    "api.openapi_document": ALL_OK,
    "api.me": BEARER,
    "api.institution_list": BEARER,
    "api.institution_detail": BEARER,
    "api.transaction_list": BEARER,
    "api.transaction_detail": BEARER,
    "api.transaction_approve": BEARER,
    "api.transaction_reject": BEARER,
    "api.approval_list": BEARER,
    "api.approval_detail": BEARER,
    "api.approval_approve": BEARER,
    "api.approval_reject": BEARER,
    "api.user_list": BEARER,
    "api.user_detail": BEARER,
    "api.audit_log_list": BEARER,
    "api.privacy_request_list": BEARER,
    "api.privacy_request_detail": BEARER,
    "api.customer_consents": BEARER,
    "api.customer_consent_record": BEARER,
    "developer.tokens": API_USERS,
    "developer.create_token": API_USERS,  # step-up first
    "developer.revoke_token": API_USERS,
    "developer.user_tokens": {**SUPERADMIN_ONLY, "superadmin": MISSING},
    "developer.create_user_token": SUPERADMIN_ONLY,
    "developer.revoke_user_token": SUPERADMIN_ONLY,
    "developer.rate_limits": SIGNED_IN,
    # jump box: every signed-in role, each within its own scope (tests/unit/test_jump.py)
    "search.jump": SIGNED_IN,
    "search.jump_json": SIGNED_IN,
    # consent: one's own choices; notices (superadmins publish, with step-up; anyone signed in
    # reads one: the sample version does not exist); a customer's consent for customer managers
    "consent.account": SIGNED_IN,
    "consent.account_update": SIGNED_IN,
    "consent.notices_index": SUPERADMIN_ONLY,
    "consent.notice": {**dict.fromkeys(ROLES, MISSING), "anonymous": LOGIN},
    "consent.notice_new": SUPERADMIN_ONLY,
    "consent.customer": STAFF_ROW,
    "consent.customer_record": STAFF,
    # privacy: superadmins and privacy officers; the subject's confirmation link needs no sign-in
    "privacy.requests": PRIVACY,
    "privacy.request_new": PRIVACY,
    "privacy.request_create": PRIVACY,
    "privacy.request_detail": PRIVACY_ROW,
    "privacy.request_send_link": PRIVACY,  # refused for the missing CSRF token before the row is looked up
    "privacy.request_verify": PRIVACY,
    "privacy.request_extend": PRIVACY,
    "privacy.request_complete": PRIVACY,  # decisions: step-up first
    "privacy.request_refuse": PRIVACY,
    "privacy.confirm_link": ALL_OK,  # an unknown link answers 410 with an explanation
    "privacy.records_of_processing": PRIVACY,
    "privacy.records_csv": PRIVACY,
    # access exports (exports.EXPORT_PERMISSION: the privacy permission); starting and downloading ask for
    # step-up first; an export is seen only by the person who started it (the sample job does not exist)
    "privacy.export_new": PRIVACY,
    "privacy.export_status": {**PRIVACY, "superadmin": MISSING, "privacy_officer": MISSING},
    "privacy.export_download": PRIVACY,
    # analytics: the first-party script's beacons (signed in; the probe has no same-origin header: 403)
    "analytics.collect": {**dict.fromkeys(ROLES, FORBIDDEN), "anonymous": LOGIN},
    # the analytics pages (superadmins only)
    "insights.overview": SUPERADMIN_ONLY,
    "insights.pages": SUPERADMIN_ONLY,
    "insights.adoption": SUPERADMIN_ONLY,
    "insights.funnel": SUPERADMIN_ONLY,
    "insights.retention": SUPERADMIN_ONLY,
    "insights.platform": SUPERADMIN_ONLY,
    # the Sentry tunnel exists only with a browser DSN (none here); with one, anyone may report (same origin)
    "replay.tunnel": dict.fromkeys(ROLES, MISSING),
}

SAMPLE_ARGS = {"filename": "css/app.css", "institution_id": 987654, "customer_id": 987654, "transaction_id": 987654,
               "approval_id": 987654, "import_id": 987654, "user_id": 987654, "passkey_id": 987654,
               "token": "not-a-real-token", "key": "maintenance_banner", "token_id": 987654,
               "entry_id": 1, "resource_type": "user", "resource_id": "1", "actor_id": 1, "fmt": "csv",
               "backup_id": "20260101T000000Z-abcdef", "job_id": "20260101T000000-abcdef12",
               "purpose": "notifications", "version": 987654, "request_id": 987654, "kind": "customer",
               "ref_id": 987654, "locale": "id", "subscription_id": 987654}


def outcome(response) -> str:
    if response.status_code in (301, 302, 303) and response.headers["Location"].startswith("/login"):
        return LOGIN
    if response.status_code == 401:
        return TOKEN
    if response.status_code == 403:
        return FORBIDDEN
    if response.status_code == 404:
        return MISSING
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
