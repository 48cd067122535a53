"""The OpenAPI 3.0 document of /api/v1, served at /api/v1/openapi.json.

Written by hand next to the endpoints it describes; ``tests/integration/test_api_schemathesis.py``
runs schemathesis against it (no server errors, responses match their schemas) and a
unit test checks that every API route is documented and every documented path exists.
"""

from __future__ import annotations

from app.api.params import DEFAULT_LIMIT, MAX_LIMIT
from app.api.privacy import REQUEST_FILTERS
from app.audit.lists import ACTION, AUDIT_LOG, REQUEST_ID, RESOURCE_ID_LENGTH, RESOURCE_TYPE
from app.consent.lists import HISTORY
from app.consent.models import MAX_EVIDENCE, SOURCE_VALUES
from app.listing import ListDefinition
from app.personal_data.catalogue import consent_purposes
from app.platform import lists as platform_lists
from app.platform.labels import STATUS_LABELS
from app.privacy import lists as privacy_lists
from app.privacy import models as privacy
from app.security.ratelimits import API_PER_TOKEN
from app.security.roles import ROLE_VALUES
from app.users import lists as user_lists

PREFIX = "/api/v1"
MAX_ID = 2**31 - 1

STRING_OR_NULL = {"type": "string", "nullable": True}
TIME = {"type": "string", "format": "date-time"}
TIME_OR_NULL = {**TIME, "nullable": True}
ID = {"type": "integer", "minimum": 1}
ID_OR_NULL = {"type": "integer", "nullable": True}
STATUS = {"type": "string", "enum": list(STATUS_LABELS)}
ROLE = {"type": "string", "enum": list(ROLE_VALUES)}
# Text may hold tabs and line breaks, never other control characters (C0, DEL, C1), as
# app.inputs refuses them; a query parameter holds no tab or line break either.
NO_CONTROL_CHARACTERS = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$"
ONE_LINE = "^[^\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]*$"
SEARCH = {"type": "string", "maxLength": 100, "pattern": ONE_LINE}
# A rejection's reason: at least 3 characters once the spaces around it are trimmed (str.strip's
# whitespace, spelled out: JavaScript's \s differs), and no control characters.
_SPACE = "\\t\\n\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_NOT_SPACE = "[^\\x00-\\x20\\x7f-\\x9f\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
REASON_PATTERN = f"^[{_SPACE}]*{_NOT_SPACE}[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]+{_NOT_SPACE}[{_SPACE}]*$"
# One line of 1..RESOURCE_ID_LENGTH characters without spaces around it (what the audit list's
# resource id accepts, given as the API takes it: untrimmed).
RESOURCE_ID_PATTERN = (f"^{_NOT_SPACE}(?:[^\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]{{0,{RESOURCE_ID_LENGTH - 2}}}"
                       f"{_NOT_SPACE})?$")
RESULTS = [value for value, _label in AUDIT_LOG.filter("result").choices]


def _object(properties: dict, required: list[str] | None = None) -> dict:
    return {"type": "object", "properties": properties, "required": required or list(properties),
            "additionalProperties": False}


SCHEMAS = {
    "Error": _object({"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "Stable error code: token_missing, invalid_token, "
                     "token_expired, too_many_failures, insufficient_scope, forbidden, two_factor_required, not_found, "
                     "validation_error, already_decided, changed_meanwhile, decision_refused, notice_changed, "
                     "consent_refused, rate_limited, or http_<status>."},
            "message": {"type": "string"}, "request_id": STRING_OR_NULL,
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            "retry_after": {"type": "integer"}, "limit": {"type": "string"},
            "required_scope": {"type": "string"}, "status": {"type": "string"},
            "decided_at": STRING_OR_NULL, "decided_by": {"type": "string"},
            "notice_version": {**ID_OR_NULL, "description": "notice_changed: the version to show now."}}}}),
    "Institution": _object({"id": ID, "code": {"type": "string"}, "name": {"type": "string"},
                            "is_active": {"type": "boolean"}, "created_at": TIME, "version": {"type": "integer"}}),
    "Transaction": _object({
        "id": ID, "reference": {"type": "string"}, "institution_id": ID, "customer_id": ID,
        "amount_idr": {"type": "integer", "description": "Whole rupiah."}, "description": {"type": "string"},
        "status": STATUS, "created_at": TIME, "decided_at": TIME_OR_NULL, "decided_by_id": ID_OR_NULL,
        "decision_reason": STRING_OR_NULL, "version": {"type": "integer"}}),
    "Approval": _object({
        "id": ID, "kind": {"type": "string"}, "institution_id": ID_OR_NULL, "subject_type": {"type": "string"},
        "subject_id": {"type": "string"}, "subject": {"type": "string"}, "summary": {"type": "string"},
        "status": STATUS, "requested_by_id": ID_OR_NULL, "requested_at": TIME, "decided_at": TIME_OR_NULL,
        "decided_by_id": ID_OR_NULL, "reason": STRING_OR_NULL, "version": {"type": "integer"}}),
    "User": _object({
        "id": ID, "email": {"type": "string"}, "display_name": {"type": "string"},
        "role": ROLE,
        "institution_id": ID_OR_NULL, "is_active": {"type": "boolean"}, "two_factor_enabled": {"type": "boolean"},
        "created_at": TIME, "last_sign_in_at": TIME_OR_NULL}),
    "Token": _object({"id": ID, "name": {"type": "string"}, "prefix": {"type": "string"},
                      "scope": {"type": "string", "enum": ["read", "write"]}, "created_at": TIME,
                      "expires_at": TIME, "last_used_at": TIME_OR_NULL}),
    "Me": _object({"user": {"$ref": "#/components/schemas/User"}, "token": {"$ref": "#/components/schemas/Token"}}),
    "Decision": {"type": "object", "additionalProperties": False, "properties": {
        "reason": {"type": "string", "maxLength": 1000, "nullable": True, "pattern": NO_CONTROL_CHARACTERS,
                   "description": "Why; required (at least 3 characters besides spaces) to reject."},
        "expected_version": {"type": "integer", "minimum": 1, "maximum": MAX_ID, "nullable": True,
                             "description": "The version you saw; a newer one refuses the decision (409)."}}},
    "Rejection": {"type": "object", "additionalProperties": False, "required": ["reason"], "properties": {
        "reason": {"type": "string", "minLength": 3, "maxLength": 1000, "pattern": REASON_PATTERN,
                   "description": "Why (at least 3 characters besides the spaces around them)."},
        "expected_version": {"type": "integer", "minimum": 1, "maximum": MAX_ID, "nullable": True,
                             "description": "The version you saw; a newer one refuses the decision (409)."}}},
}
SCHEMAS["AuditEntry"] = _object({
    "id": ID, "created_at": TIME, "action": {"type": "string"},
    "result": {"type": "string", "enum": ["success", "failure"]},
    "actor_id": ID_OR_NULL, "actor_email": {"type": "string"}, "impersonator_id": ID_OR_NULL,
    "impersonator_email": STRING_OR_NULL, "resource_type": STRING_OR_NULL, "resource_id": STRING_OR_NULL,
    "resource_repr": STRING_OR_NULL, "institution_id": ID_OR_NULL, "description": {"type": "string"},
    "changes": {"type": "object", "nullable": True, "description": "What changed: {field: {before, after}}."},
    "ip": STRING_OR_NULL, "user_agent": STRING_OR_NULL, "request_id": STRING_OR_NULL,
    "prev_hash": {"type": "string", "description": "The hash of the entry before this one in the chain."},
    "hash": {"type": "string", "description": "SHA-256 over this entry's fields and prev_hash."}})
SCHEMAS["AuditPage"] = _object({
    "data": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}},
    "next_cursor": {**STRING_OR_NULL, "description": "Pass as `after` next time (the same one when nothing is new)."},
    "has_more": {"type": "boolean", "description": "More entries are waiting: ask again at once."}})


def _enum(values, nullable: bool = False) -> dict:
    """A string of these values (``nullable``: or null, which OpenAPI 3.0 wants in the enum too)."""
    found = [str(v) for v in values]
    return {"type": "string", "enum": [*found, None], "nullable": True} if nullable else {"type": "string",
                                                                                        "enum": found}


_REQUEST = {
    "id": ID, "reference": {"type": "string"}, "subject_type": _enum(privacy.SubjectType),
    "subject_id": {"type": "integer"}, "kind": _enum(privacy.RequestKind), "channel": _enum(privacy.Channel),
    "jurisdiction": _enum(privacy.Jurisdiction), "status": _enum(privacy.RequestStatus), "received_at": TIME,
    "due_at": TIME, "original_due_at": TIME, "extended_at": TIME_OR_NULL, "overdue": {"type": "boolean"},
    "verification_method": _enum(privacy.VerificationMethod, True), "verified_at": TIME_OR_NULL,
    "decided_at": TIME_OR_NULL, "outcome": _enum(privacy.Outcome, True),
    "refusal_reason": _enum(privacy.RefusalReason, True), "version": {"type": "integer"}}
SCHEMAS["PrivacyRequest"] = _object(_REQUEST)
SCHEMAS["PrivacyRequestEvent"] = _object({
    "id": ID, "kind": _enum(privacy.EventKind), "at": TIME, "by": _enum(("staff", "data_subject", "system")),
    "actor_id": ID_OR_NULL})
SCHEMAS["PrivacyRequestDetail"] = _object({**_REQUEST, "events": {
    "type": "array", "items": {"$ref": "#/components/schemas/PrivacyRequestEvent"}}})
PURPOSE = _enum(p.key for p in consent_purposes())
SCHEMAS["ConsentChoice"] = _object({
    "purpose": PURPOSE, "granted": {"type": "boolean", "description": "Consent counts now."},
    "lapsed": {"type": "boolean", "description": "The latest grant was to an earlier material notice version."},
    "notice_version": {**ID_OR_NULL, "description": "The version asked about now (null: none published)."},
    "decided_by_event_id": ID_OR_NULL, "decided_notice_version": ID_OR_NULL, "decided_at": TIME_OR_NULL})
SCHEMAS["ConsentEvent"] = _object({
    "id": ID, "purpose": PURPOSE, "action": _enum(("grant", "withdraw")), "granted": {"type": "boolean"},
    "notice_version": {"type": "integer"}, "source": _enum(SOURCE_VALUES), "evidence": STRING_OR_NULL,
    "recorded_by_id": ID_OR_NULL, "recorded_at": TIME, "counts_now": {"type": "boolean"}})
SCHEMAS["CustomerConsents"] = _object({
    "customer_id": ID, "choices": {"type": "array", "items": {"$ref": "#/components/schemas/ConsentChoice"}},
    "history": {"type": "array", "items": {"$ref": "#/components/schemas/ConsentEvent"}},
    "next_cursor": {**STRING_OR_NULL, "description": "The next page of the history."}})
SCHEMAS["ConsentRecorded"] = _object({
    "recorded": {"type": "boolean", "description": "false: the choice already stood; nothing was recorded."},
    "event": {"allOf": [{"$ref": "#/components/schemas/ConsentEvent"}], "nullable": True},
    "choice": {"$ref": "#/components/schemas/ConsentChoice"}})
_EVIDENCE = {"type": "string", "nullable": True, "maxLength": MAX_EVIDENCE, "pattern": ONE_LINE,
             "description": "What shows the choice, e.g. the app and screen (optional, one line)."}
SCHEMAS["ConsentInput"] = {"oneOf": [
    {"type": "object", "additionalProperties": False, "required": ["purpose", "granted", "notice_version"],
     "description": "The customer agrees, to the notice version they read.",
     "properties": {"purpose": PURPOSE, "granted": {"type": "boolean", "enum": [True]},
                    "notice_version": {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "evidence": _EVIDENCE}},
    {"type": "object", "additionalProperties": False, "required": ["purpose", "granted"],
     "description": "The customer withdraws (whatever notice version they saw).",
     "properties": {"purpose": PURPOSE, "granted": {"type": "boolean", "enum": [False]},
                    "notice_version": {"type": "integer", "minimum": 1, "maximum": MAX_ID, "nullable": True},
                    "evidence": _EVIDENCE}}]}
for _name in ("Institution", "Transaction", "Approval", "User", "PrivacyRequest"):
    SCHEMAS[f"{_name}Page"] = _object({"data": {"type": "array", "items": {"$ref": f"#/components/schemas/{_name}"}},
                                       "next_cursor": STRING_OR_NULL})


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ok(schema: str) -> dict:
    return {"description": "OK",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


COMMON = {"401": _error("No token, or an unknown, expired or revoked one."),
          "403": _error("The token's scope or its user's role does not allow this."),
          "429": _error(f"Rate limit reached ({API_PER_TOKEN.limit} per token); see Retry-After.")}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PAGING = [
    _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
           "Items per page."),
    _query("cursor", {"type": "string"}, "The next_cursor of the previous page."),
]
INSTITUTION_FILTER = _query("institution_id", {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                            "Only this institution.")


def _list(summary: str, schema: str, filters: list[dict], tag: str | None = None) -> dict:
    return {"get": {"summary": summary, "tags": [tag or schema.lower() + "s"], "parameters": filters + PAGING,
                    "responses": {"200": _ok(f"{schema}Page"), "400": _error("A parameter is not valid."),
                                  **COMMON}}}


def _detail(summary: str, schema: str, parameter: str, tag: str | None = None) -> dict:
    return {"parameters": [{"name": parameter, "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1}}],
            "get": {"summary": summary, "tags": [tag or schema.lower() + "s"],
                    "responses": {"200": _ok(schema), "404": _error("No such object in the token's scope."),
                                  **COMMON}}}


def _decision(summary: str, schema: str, parameter: str, body: str = "Decision") -> dict:
    return {"parameters": [{"name": parameter, "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1}}],
            "post": {"summary": summary, "tags": [schema.lower() + "s"],
                     "requestBody": {"required": body == "Rejection", "content": {"application/json": {
                         "schema": {"$ref": f"#/components/schemas/{body}"}}}},
                     "responses": {"200": _ok(schema), "400": _error("The body is not valid."),
                                   "404": _error("No such object in the token's scope."),
                                   "409": _error("Already decided, or changed since expected_version."),
                                   "422": _error("Refused: no reason for a rejection, or one's own request."),
                                   **COMMON}}}


def _time_filter(name: str, description: str) -> dict:
    return _query(name, {"type": "string", "format": "date-time"}, description)


def _choices(definition: ListDefinition, name: str) -> dict:
    """The values a list filter offers (its page's declaration), as an enum."""
    return {"type": "string", "enum": [value for value, _label in definition.filter(name).choices]}


PATHS = {
    "/me": {"get": {"summary": "The token and the user it acts as", "tags": ["tokens"],
                    "responses": {"200": _ok("Me"), **COMMON}}},
    "/institutions": _list("Institutions in the token's scope", "Institution", [
        _query("active", {"type": "string", "enum": ["true", "false"]}, "Only active (true) or inactive ones."),
        _query("q", SEARCH, "Part of the name or code.")]),
    "/institutions/{institution_id}": _detail("One institution", "Institution", "institution_id"),
    "/transactions": _list("Transactions, newest first", "Transaction", [
        _query("status", _choices(platform_lists.TRANSACTIONS, "status"), "Only this status."), INSTITUTION_FILTER,
        _time_filter("created_after", "Created at or after (RFC 3339)."),
        _time_filter("created_before", "Created before (RFC 3339)."),
        _query("q", SEARCH, "An exact reference or customer e-mail.")]),
    "/transactions/{transaction_id}": _detail("One transaction", "Transaction", "transaction_id"),
    "/transactions/{transaction_id}/approve": _decision("Approve a pending transaction", "Transaction",
                                                        "transaction_id"),
    "/transactions/{transaction_id}/reject": _decision("Reject a pending transaction (reason required)",
                                                       "Transaction", "transaction_id", "Rejection"),
    "/approvals": _list("Approval requests, newest first", "Approval", [
        _query("status", _choices(platform_lists.APPROVALS, "status"), "Only this status."),
        _query("kind", _choices(platform_lists.APPROVALS, "kind"), "Only this kind."),
        INSTITUTION_FILTER,
        _time_filter("requested_after", "Requested at or after (RFC 3339)."),
        _time_filter("requested_before", "Requested before (RFC 3339).")]),
    "/approvals/{approval_id}": _detail("One approval request", "Approval", "approval_id"),
    "/approvals/{approval_id}/approve": _decision("Approve a pending request (not one's own)", "Approval",
                                                  "approval_id"),
    "/approvals/{approval_id}/reject": _decision("Reject a pending request (reason required)", "Approval",
                                                 "approval_id", "Rejection"),
    "/audit-logs": {"get": {
        "summary": "Audit log entries after a cursor, oldest first (for SIEM pulls)", "tags": ["audit"],
        "description": "The first pull of each hour by a token is itself recorded (action AUDIT_API_READ).",
        "parameters": [
            _query("after", {"type": "string"},
                   "The next_cursor of the previous pull; leave out to start at the beginning."),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "Entries per pull."),
            _time_filter("since", "Only entries made at or after this time (RFC 3339)."),
            {"name": "action", "in": "query", "required": False, "style": "form", "explode": True,
             "schema": {"type": "array", "items": {"type": "string", "pattern": ACTION.pattern}},
             "description": "Only these actions (repeat the parameter for several)."},
            _query("result", {"type": "string", "enum": RESULTS}, "Only successes or failures."),
            _query("resource_type", {"type": "string", "pattern": RESOURCE_TYPE.pattern},
                   "Only entries about this kind of object."),
            _query("resource_id", {"type": "string", "pattern": RESOURCE_ID_PATTERN},
                   "Only entries about this object (with resource_type)."),
            _query("actor_id", {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                   "Only what this user did (also while impersonating)."),
            _query("request_id", {"type": "string", "pattern": REQUEST_ID.pattern},
                   "Only entries of this request."),
        ],
        "responses": {"200": _ok("AuditPage"), "400": _error("A parameter is not valid."), **COMMON}}},
    "/users": _list("Accounts the token's user may administer", "User", [
        _query("role", _choices(user_lists.USERS, "role"), "Only this role."),
        _query("active", {"type": "string", "enum": ["true", "false"]}, "Only active or inactive accounts."),
        _query("two_factor", {"type": "string", "enum": ["true", "false"]},
               "Only accounts with (true) or without (false) a second factor."),
        INSTITUTION_FILTER, _query("q", SEARCH, "Part of the e-mail or name.")]),
    "/users/{user_id}": _detail("One account", "User", "user_id"),
    "/privacy/requests": _list("Data-subject requests, newest first (pseudonymous)", "PrivacyRequest", [
        *(_query(param, _choices(privacy_lists.REQUESTS, name), f"Only this {param}.")
          for param, name in REQUEST_FILTERS.items() if name != "due"),
        _time_filter("due_after", "Due at or after (RFC 3339)."),
        _time_filter("due_before", "Due before (RFC 3339).")], tag="privacy"),
    "/privacy/requests/{request_id}": _detail("One data-subject request and its timeline", "PrivacyRequestDetail",
                                              "request_id", tag="privacy"),
    "/customers/{customer_id}/consents": {
        "parameters": [{"name": "customer_id", "in": "path", "required": True, "schema": {"type": "integer",
                                                                                          "minimum": 1}}],
        "get": {"summary": "A customer's current consent per purpose, and the history (newest first)",
                "tags": ["consents"], "parameters": [
                    _query("purpose", _choices(HISTORY, "purpose"), "Only the history of this purpose."), *PAGING],
                "responses": {"200": _ok("CustomerConsents"), "400": _error("A parameter is not valid."),
                              "404": _error("No such customer in the token's scope."), **COMMON}},
        "post": {"summary": "Record the choice a customer made in an app (audited like the staff page)",
                 "tags": ["consents"], "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/ConsentInput"}}}},
                 "responses": {"201": _ok("ConsentRecorded"), "200": _ok("ConsentRecorded"),
                               "400": _error("The body is not valid (error.fields names the field)."),
                               "404": _error("No such customer in the token's scope."),
                               "409": _error("A newer notice version was published: nothing was recorded."),
                               "422": _error("Refused: no notice is published for this purpose yet."),
                               **COMMON}}},
}


def document() -> dict:
    """The OpenAPI document (plain data, JSON-ready)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Saintara Admin API", "version": "1.0.0",
            "description": (
                "Read institutions, transactions, approval requests, accounts, data-subject requests and customers' "
                "consent, approve or reject, and record a customer's consent, with "
                "a personal API token (Authorization: Bearer sat_...). Make tokens on the portal's API tokens "
                "page; a token acts with its user's role and institution scope, narrowed to read or read and "
                "write. Errors are JSON with a stable error.code. Rate limits: docs/API_RATE_LIMITS.md; every "
                "response carries X-RateLimit-Limit, -Remaining and -Reset."),
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearerAuth": []}],
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
                       "schemas": SCHEMAS},
        "paths": PATHS,
    }
