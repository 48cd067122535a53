"""Read endpoints: the token's user sees exactly what the portal would show them.

Lists are keyset pages ordered by id, newest first (``limit``, ``cursor``), filtered by their
list page's own declarations (app.platform.lists, app.users.lists) through
app.api.params.list_filters; lists and
details of institutions, transactions and approvals come from the shared cache per
institution scope (app.api.cache), invalidated by the services that change them.
"""

from __future__ import annotations

from flask import g
from flask_babel import gettext as _
from flask_login import current_user

from app.api import bp, serializers
from app.api.auth import ApiError
from app.api.cache import cached_read
from app.api.params import list_filters, page
from app.auth import two_factor
from app.extensions import db
from app.pagination import Keyset
from app.platform import lists as platform_lists
from app.platform.models import Approval, Institution, Transaction
from app.platform.services import institutions, queues
from app.security.access import Permission, api_token, institution_scope
from app.security.actor import actor_from_request
from app.users import administration
from app.users import lists as user_lists
from app.users.models import User

MAX_ID = 2**31 - 1
# Each list's API parameter -> the filter of its page's declaration it sets (app.api.params.list_filters);
# a date range's key names two parameters, <key>_after and <key>_before.
INSTITUTION_FILTERS = {"q": "q", "active": "active"}
TRANSACTION_FILTERS = {"q": "q", "status": "status", "institution_id": "institution", "created": "created"}
APPROVAL_FILTERS = {"status": "status", "kind": "kind", "institution_id": "institution", "requested": "requested"}
USER_FILTERS = {"q": "q", "role": "role", "active": "active", "two_factor": "two_factor",
                "institution_id": "institution"}
USER_BOOLEANS = ("active", "two_factor")


def visibility() -> str:
    """The cache key part for what this caller may see: an institution scope, never a person."""
    scope = institution_scope(actor_from_request())
    return "all" if scope is None else f"institution-{scope}"


def not_found() -> ApiError:
    return ApiError(404, "not_found", _("There is no such object, or this token may not see it."))


def visible(model, row_id: int):
    """The row when it exists and lies in the caller's institution scope; ``not_found`` otherwise."""
    row = db.session.get(model, row_id) if row_id <= MAX_ID else None
    if row is None:
        raise not_found()
    scope = institution_scope(actor_from_request())
    institution_id = row.id if model is Institution else row.institution_id
    if scope is not None and institution_id != scope:
        raise not_found()
    return row


@bp.get("/me")
@api_token("read")
def me():
    """Who this token acts as, and the token itself."""
    user = current_user._get_current_object()
    enabled = bool(two_factor.enabled_user_ids([user.id]))
    return {"user": serializers.user(user, enabled), "token": serializers.token(g.api_token)}


@bp.get("/institutions")
@api_token("read", Permission.VIEW_PORTAL)
@cached_read("institutions", visibility)
def institution_list():
    """Institutions in the caller's scope, filtered by the institution list page's filters."""
    values = list_filters(platform_lists.INSTITUTIONS, INSTITUTION_FILTERS, booleans=("active",))
    query = institutions.search(actor_from_request(), values)
    return page(query, Keyset((Institution.id,)), serializers.institution)


@bp.get("/institutions/<int:institution_id>")
@api_token("read", Permission.VIEW_PORTAL)
@cached_read("institutions", visibility)
def institution_detail(institution_id: int):
    return serializers.institution(visible(Institution, institution_id))


@bp.get("/transactions")
@api_token("read", Permission.VIEW_PORTAL)
@cached_read("transactions", visibility)
def transaction_list():
    """Transactions in the caller's scope, filtered by the transaction list page's filters."""
    values = list_filters(platform_lists.TRANSACTIONS, TRANSACTION_FILTERS)
    query = queues.transactions(actor_from_request(), values)
    return page(query, Keyset((Transaction.id,)), serializers.transaction)


@bp.get("/transactions/<int:transaction_id>")
@api_token("read", Permission.VIEW_PORTAL)
def transaction_detail(transaction_id: int):
    return serializers.transaction(visible(Transaction, transaction_id))


@bp.get("/approvals")
@api_token("read", Permission.VIEW_PORTAL)
@cached_read("approvals", visibility)
def approval_list():
    """Approval requests in the caller's scope, filtered by the approval queue's filters (every
    status unless ``status`` is given: the page's default of pending ones is the page's own)."""
    values = list_filters(platform_lists.APPROVALS, APPROVAL_FILTERS)
    query = queues.approvals(actor_from_request(), values)
    return page(query, Keyset((Approval.id,)), serializers.approval)


@bp.get("/approvals/<int:approval_id>")
@api_token("read", Permission.VIEW_PORTAL)
def approval_detail(approval_id: int):
    return serializers.approval(visible(Approval, approval_id))


def _users_with_two_factor(rows: list[User]) -> list[dict]:
    enabled = two_factor.enabled_user_ids([row.id for row in rows])
    return [serializers.user(row, row.id in enabled) for row in rows]


@bp.get("/users")
@api_token("read", Permission.MANAGE_USERS)
def user_list():
    """Accounts the token's user may see in user administration (not cached: they hold e-mail
    addresses), filtered by the user list page's own filters (app.users.lists)."""
    values = list_filters(user_lists.USERS, USER_FILTERS, booleans=USER_BOOLEANS)
    body = page(user_lists.search(actor_from_request(), values), Keyset((User.id,)), lambda row: row)
    body["data"] = _users_with_two_factor(body["data"])
    return body


@bp.get("/users/<int:user_id>")
@api_token("read", Permission.MANAGE_USERS)
def user_detail(user_id: int):
    target = db.session.get(User, user_id) if user_id <= MAX_ID else None
    if target is None or not administration.can_see(actor_from_request(), target):
        raise not_found()
    return _users_with_two_factor([target])[0]
