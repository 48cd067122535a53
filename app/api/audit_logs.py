"""The audit log for SIEM pulls: entries in chain order after a cursor, filtered like the portal's list.

A collector keeps the ``next_cursor`` of its last pull and asks again with it: entries
are returned oldest first by id, which is also the order in which they were committed
(the chain is written under a lock), so a poll never misses an entry that committed
late. With nothing new, ``next_cursor`` stays the one given. Every entry carries its
``prev_hash`` and ``hash``, so the collector can check the chain too. The token's user
sees what the portal's audit log would show them (institution admins: their
institution's entries); the filters it shares with the portal's list (action, result,
resource, actor_id, request_id) are read by that list's declarations (app.audit.lists), and
``since`` is an RFC 3339 time. The first pull of each hour by a token is itself recorded
(AUDIT_API_READ).
"""

from __future__ import annotations

from flask import g, request
from flask_babel import gettext as _
from sqlalchemy import select

from app.api import bp
from app.api.params import declared_filter, invalid, timestamp
from app.audit.export import record_api_read
from app.audit.filters import AuditFilter
from app.audit.lists import AUDIT_LOG, audit_filter
from app.audit.models import AuditLog
from app.audit.queries import criteria
from app.extensions import db
from app.inputs import digits
from app.pagination import InvalidCursor, decode_cursor, encode_cursor
from app.personal_data import vault
from app.security.access import Permission, api_token, institution_scope
from app.security.actor import actor_from_request

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Parameters named and checked as on the portal's list (app.audit.lists), by filter name.
SHARED = ("action", "result", "resource", "actor_id", "request_id")
# This list's filters, as the audit entry of a pull describes them.
FILTERS = ("action", "result", "resource_type", "resource_id", "actor_id", "since", "request_id")


def _time(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def entry(row: AuditLog) -> dict:
    """One entry as the API shows it, personal values revealed (app.personal_data.vault)."""
    return {"id": row.id, "created_at": _time(row.created_at), "action": row.action, "result": row.result,
            "actor_id": row.actor_id, "actor_email": vault.reveal(row.actor_email),
            "impersonator_id": row.impersonator_id, "impersonator_email": vault.reveal(row.impersonator_email),
            "resource_type": row.resource_type, "resource_id": row.resource_id,
            "resource_repr": vault.reveal_text(row.resource_repr), "institution_id": row.institution_id,
            "description": vault.reveal_text(row.description), "changes": vault.reveal_json(row.changes),
            "ip": row.ip, "user_agent": row.user_agent, "request_id": row.request_id,
            "prev_hash": row.prev_hash, "hash": row.hash}


def _after() -> int:
    raw = request.args.get("after")
    if raw is None:
        return 0
    try:
        (after,) = decode_cursor(raw, (AuditLog.id,))
    except InvalidCursor:
        raise invalid("after", _("This cursor was not made by this list.")) from None
    return after


def _filter() -> AuditFilter:
    values = {name: declared_filter(AUDIT_LOG, name) for name in SHARED}
    since = timestamp("since")
    values["time"] = (since, None) if since else None
    # The inputs as given (all valid by now), so that summary() describes the pull like an export.
    raw = {name: request.args.getlist(name) if name == "action" else request.args[name]
           for name in FILTERS if name in request.args}
    return audit_filter(values, raw)


@bp.get("/audit-logs")
@api_token("read", Permission.VIEW_AUDIT_LOG)
def audit_log_list():
    """Entries after ``after`` (a cursor from the previous pull), oldest first."""
    after = _after()
    limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not digits(limit, 10) or not 1 <= int(limit) <= MAX_LIMIT:
        raise invalid("limit", _("Use a whole number from %(low)s to %(high)s.", low=1, high=MAX_LIMIT))
    f, scope = _filter(), institution_scope(actor_from_request())
    conditions = criteria(f, scope).where()
    rows = list(db.session.scalars(select(AuditLog).where(AuditLog.id > after, *conditions)
                                   .order_by(AuditLog.id).limit(int(limit) + 1)))
    more = len(rows) > int(limit)
    rows = rows[:int(limit)]
    cursor = encode_cursor([rows[-1].id]) if rows else request.args.get("after")
    record_api_read(actor_from_request(), g.api_token, f, scope)
    return {"data": [entry(row) for row in rows], "next_cursor": cursor, "has_more": more}
