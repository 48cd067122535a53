"""What completing a request makes the portal do, in the transaction that completes it.

- erasure: :func:`erase_subject_for` erases the subject, keeping what a law requires
  (:func:`app.privacy.erasure.erase_subject`, in the same transaction as the completion);
- access: :func:`start_access_export` starts the background export of the subject's data;
- rectification, restriction, objection: staff make the change in the portal (or stop
  the processing) and record what they did in the completion note; nothing runs here.

When the work cannot be done (an erasure refused for a legal hold or open business; a kind
this build cannot carry out), completing is refused with :class:`FulfilmentUnavailable` and
nothing changes: a request is never marked done for work that did not happen.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from app.privacy import erasure, exports
from app.privacy.errors import FulfilmentUnavailable
from app.privacy.export import NoSuchPerson
from app.privacy.models import PrivacyRequest, RequestKind
from app.security.actor import Actor

# Kinds whose fulfilment this build cannot run yet (see the module's docstring).
NOT_YET_AVAILABLE: frozenset[RequestKind] = frozenset()


def available(kind: RequestKind | str) -> bool:
    """False while completing requests of ``kind`` would need work this build cannot do."""
    return RequestKind(kind) not in NOT_YET_AVAILABLE


@dataclass(frozen=True)
class Fulfilment:
    """What the portal did: a line for the timeline, and the export job an access request started."""

    line: str | None = None
    export_job: str | None = None


def fulfil(actor: Actor, req: PrivacyRequest) -> Fulfilment:
    """Carry out what ``req`` asks, where the portal does it (an empty Fulfilment when staff
    did the work themselves). Raises FulfilmentUnavailable."""
    kind = req.kind_enum
    if kind is RequestKind.ERASURE:
        return Fulfilment(erase_subject_for(actor, req))
    if kind is RequestKind.ACCESS:
        return start_access_export(actor, req)
    return Fulfilment()


def erase_subject_for(actor: Actor, req: PrivacyRequest) -> str:
    """Erase the subject of an erasure request; returns the receipt's line for the timeline
    (subject number and counts, no personal data). Raises FulfilmentUnavailable when the
    erasure is refused (a legal hold, open business): refuse the request with that reason."""
    try:
        receipt = erasure.erase_subject(actor, req.subject_type, req.subject_id, request_ref=req.reference)
    except erasure.ErasureRefused as exc:
        raise FulfilmentUnavailable(_l("The erasure was refused: %(reason)s Nothing was changed; refuse the "
                                       "request with this reason if it stands.", reason=exc.reason)) from None
    return (f"Erased as subject #{receipt.subject_id}: {receipt.accounts_erased} account(s) erased, "
            f"{receipt.approvals_pseudonymised} approval request(s) pseudonymised, {receipt.payments_kept} "
            "payment(s) kept as the law requires.")


def start_access_export(actor: Actor, req: PrivacyRequest) -> Fulfilment:
    """Start the export of the subject's data for an access request (app.privacy.exports: a
    background job; the officer downloads the ZIP from the export page and sends it to the
    subject). Raises FulfilmentUnavailable when it cannot start."""
    try:
        job_id = exports.start(actor, req.subject_type, req.subject_id, request_ref=req.reference)
    except (exports.ExportRefused, NoSuchPerson) as exc:
        raise FulfilmentUnavailable(_l("The export could not start: %(reason)s Nothing was changed.",
                                       reason=str(exc))) from None
    return Fulfilment(f"Export of the subject's data started (job {job_id}); download it from the export page.",
                      export_job=job_id)
