"""Data-subject requests through the API, for privacy officers and superadmins (MANAGE_PRIVACY).

Pseudonymous like the list page's CSV and the audit log: a request names its subject by type
and id only. Neither the subject's name or address nor the free text of a request (what the
subject wrote, the notes staff wrote, which are privacy records) is served here; the request's
page shows them. The list is a keyset page, newest first, filtered by the list page's own
declaration (app.privacy.lists) through app.api.params.list_filters; every status unless
``status`` is given (the page's default of open ones is the page's own).
"""

from __future__ import annotations

from app.api import bp, serializers
from app.api.params import list_filters, page
from app.api.reads import MAX_ID, not_found
from app.extensions import db
from app.pagination import Keyset
from app.privacy import lists as privacy_lists
from app.privacy import services as privacy
from app.privacy.models import PrivacyRequest
from app.privacy.verification import SUBJECT_LABEL
from app.security.access import Permission, api_token

# API parameter -> the filter of the list page's declaration it sets (app.api.params.list_filters).
REQUEST_FILTERS = {"status": "status", "kind": "kind", "jurisdiction": "jurisdiction", "deadline": "deadline",
                   "due": "due"}


@bp.get("/privacy/requests")
@api_token("read", Permission.MANAGE_PRIVACY)
def privacy_request_list():
    """Data-subject requests, newest first, filtered by the request list page's filters."""
    values = list_filters(privacy_lists.REQUESTS, REQUEST_FILTERS)
    return page(privacy.search(values), Keyset((PrivacyRequest.id,)), serializers.privacy_request)


@bp.get("/privacy/requests/<int:request_id>")
@api_token("read", Permission.MANAGE_PRIVACY)
def privacy_request_detail(request_id: int):
    """One request with its timeline, oldest step first."""
    req = db.session.get(PrivacyRequest, request_id) if request_id <= MAX_ID else None
    if req is None:
        raise not_found()
    return {**serializers.privacy_request(req),
            "events": [serializers.privacy_request_event(event, SUBJECT_LABEL) for event in req.events]}
