"""Write endpoints: approve or reject a transaction or an approval request.

They call the console's decision services (app.platform.services.decisions), so the
same row lock, version check, four-eyes rule and audit entries apply: of two
concurrent decisions exactly one is recorded, the other gets 409 ``already_decided``.
Body (JSON, optional for approvals): ``{"reason": "...", "expected_version": 3}``.
"""

from __future__ import annotations

from flask_babel import gettext as _

from app.api import bp, serializers
from app.api.auth import ApiError
from app.api.params import json_body
from app.api.reads import MAX_ID, not_found
from app.inputs import has_control_characters
from app.platform.services import NotVisible
from app.platform.services import decisions as service
from app.security.access import Permission, api_token
from app.security.actor import actor_from_request


def _decision_input() -> tuple[str | None, int | None]:
    body = json_body()
    unknown = sorted(set(body) - {"reason", "expected_version"})
    if unknown:
        raise ApiError(400, "validation_error", _("Unknown field: %(name)s.", name=unknown[0]),
                       fields={unknown[0]: _("Unknown field.")})
    reason, version = body.get("reason"), body.get("expected_version")
    if reason is not None and (not isinstance(reason, str) or has_control_characters(reason, multiline=True)):
        raise ApiError(400, "validation_error", _("The reason must be text."),
                       fields={"reason": _("Use text without control characters.")})
    if version is not None and (type(version) is not int or not 1 <= version <= MAX_ID):
        raise ApiError(400, "validation_error", _("expected_version must be a whole number."),
                       fields={"expected_version": _("Use the version number the object showed.")})
    return reason, version


def _decide(decide, row_id: int, approve: bool, serialize):
    if row_id > MAX_ID:
        raise not_found()
    reason, version = _decision_input()
    try:
        row = decide(actor_from_request(), row_id, approve=approve, reason=reason, expected_version=version)
    except NotVisible:
        raise not_found() from None
    except service.AlreadyDecided as exc:
        raise ApiError(409, "already_decided", _("Someone decided this first; your decision was not recorded."),
                       status=exc.status, decided_at=exc.decided_at.isoformat() if exc.decided_at else None,
                       decided_by=str(exc.decided_by_name)) from None
    except service.ChangedMeanwhile as exc:
        raise ApiError(409, "changed_meanwhile", exc.message) from None
    except service.DecisionRefused as exc:
        raise ApiError(422, "decision_refused", exc.message) from None
    return serialize(row)


@bp.post("/transactions/<int:transaction_id>/approve")
@api_token("write", Permission.DECIDE)
def transaction_approve(transaction_id: int):
    return _decide(service.decide_transaction, transaction_id, True, serializers.transaction)


@bp.post("/transactions/<int:transaction_id>/reject")
@api_token("write", Permission.DECIDE)
def transaction_reject(transaction_id: int):
    return _decide(service.decide_transaction, transaction_id, False, serializers.transaction)


@bp.post("/approvals/<int:approval_id>/approve")
@api_token("write", Permission.DECIDE)
def approval_approve(approval_id: int):
    return _decide(service.decide_approval, approval_id, True, serializers.approval)


@bp.post("/approvals/<int:approval_id>/reject")
@api_token("write", Permission.DECIDE)
def approval_reject(approval_id: int):
    return _decide(service.decide_approval, approval_id, False, serializers.approval)
