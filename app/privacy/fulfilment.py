"""What completing a request makes the portal do, in the transaction that completes it.

- erasure: :func:`erase_subject_for` erases or pseudonymises the subject, keeping what a
  law requires (``app.privacy.erasure.erase_subject(actor, kind, ref_id, request=req)``);
- access: :func:`start_access_export` starts the background export of the subject's data;
- rectification, restriction, objection: staff make the change in the portal (or stop
  the processing) and record what they did in the completion note; nothing runs here.

Until the erasure and the export exist in this build, completing such a request is
refused with :class:`FulfilmentUnavailable` and nothing changes: a request is never
marked done for work that did not happen.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.privacy.errors import FulfilmentUnavailable
from app.privacy.models import PrivacyRequest, RequestKind
from app.security.actor import Actor

# Kinds whose fulfilment this build cannot run yet (see the module's docstring).
NOT_YET_AVAILABLE = frozenset({RequestKind.ERASURE, RequestKind.ACCESS})


def available(kind: RequestKind | str) -> bool:
    """False while completing requests of ``kind`` would need work this build cannot do."""
    return RequestKind(kind) not in NOT_YET_AVAILABLE


def fulfil(actor: Actor, req: PrivacyRequest) -> str | None:
    """Carry out what ``req`` asks, where the portal does it; returns a line for the timeline
    (None when staff did the work themselves). Raises FulfilmentUnavailable."""
    kind = req.kind_enum
    if kind is RequestKind.ERASURE:
        return erase_subject_for(actor, req)
    if kind is RequestKind.ACCESS:
        return start_access_export(actor, req)
    return None


def erase_subject_for(actor: Actor, req: PrivacyRequest) -> str:
    """Erase the subject of an erasure request (app.privacy.erasure, not in this build yet).

    Raises FulfilmentUnavailable.
    """
    raise FulfilmentUnavailable(_l("Erasure is not available in this version of the portal yet, so this request "
                                   "cannot be completed here. Nothing was changed."))


def start_access_export(actor: Actor, req: PrivacyRequest) -> str:
    """Start the export of the subject's data for an access request (not in this build yet).

    Raises FulfilmentUnavailable.
    """
    raise FulfilmentUnavailable(_l("The export of a subject's data is not available in this version of the portal "
                                   "yet, so this request cannot be completed here. Nothing was changed."))
