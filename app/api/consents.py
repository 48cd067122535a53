"""A customer's consent through the API: the current choices and the history, and recording a choice
the customer made in one of the platform's own apps.

The same people as on the staff consent page may use it (MANAGE_CUSTOMERS, within their
institution scope), with a write token to record. Recording calls the consent service
(app.consent.services.record) with the source ``api``: it applies the staff rule, locks the
customer's row, and writes the audit entry (CONSENT_GRANT / CONSENT_WITHDRAW) in the request's
transaction. Agreeing names the notice version the customer read (``notice_version``); when a
newer version was published since, nothing is recorded (409 ``notice_changed``), as on the
account page. Body: ``{"purpose": "notifications", "granted": true, "notice_version": 2,
"evidence": "..."}`` (``evidence`` is optional, ``notice_version`` only for a withdrawal).
"""

from __future__ import annotations

from flask_babel import gettext as _

from app.api import bp, serializers
from app.api.auth import ApiError
from app.api.params import invalid, json_body, list_filters, page
from app.api.reads import MAX_ID, not_found, visible
from app.consent import services as consent
from app.consent.lists import HISTORY
from app.consent.models import MAX_EVIDENCE, ConsentEvent, ConsentSource
from app.consent.notices import latest_notice
from app.inputs import has_control_characters
from app.pagination import Keyset
from app.personal_data.catalogue import consent_purposes
from app.platform.models import Customer
from app.security.access import Permission, api_token
from app.security.actor import actor_from_request

HISTORY_FILTERS = {"purpose": "purpose"}
FIELDS = ("purpose", "granted", "notice_version", "evidence")


def _customer(customer_id: int) -> consent.Subject:
    return consent.Subject("customer", visible(Customer, customer_id).id)


def _current(subject: consent.Subject) -> tuple[list, set[int]]:
    """The current choices, and the ids of the events they rest on."""
    choices = consent.choices(subject)
    return choices, {c.decided_by.id for c in choices if c.decided_by is not None}


@bp.get("/customers/<int:customer_id>/consents")
@api_token("read", Permission.MANAGE_CUSTOMERS)
def customer_consents(customer_id: int):
    """The customer's current choice per consent purpose, and a page of their history, newest first."""
    subject = _customer(customer_id)
    values = list_filters(HISTORY, HISTORY_FILTERS)
    choices, counting = _current(subject)
    history = page(consent.events_query(subject, values["purpose"]), Keyset((ConsentEvent.id,)),
                   lambda row: serializers.consent_event(row, counting))
    return {"customer_id": subject.id, "choices": [serializers.consent_choice(c) for c in choices],
            "history": history["data"], "next_cursor": history["next_cursor"]}


def _choice_input() -> tuple[str, bool, int | None, str | None]:
    """The body of a recording, checked field by field (400 ``validation_error`` naming the field)."""
    body = json_body()
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise invalid(unknown[0], _("Unknown field."))
    purposes = [p.key for p in consent_purposes()]
    purpose, granted = body.get("purpose"), body.get("granted")
    version, evidence = body.get("notice_version"), body.get("evidence")
    if purpose not in purposes:
        raise invalid("purpose", _("Use one of: %(values)s.", values=", ".join(purposes)))
    if not isinstance(granted, bool):
        raise invalid("granted", _("Use true (the customer agrees) or false (they withdraw)."))
    if version is None and granted:
        raise invalid("notice_version", _("Give the version of the notice the customer read and agreed to."))
    if version is not None and (type(version) is not int or not 1 <= version <= MAX_ID):
        raise invalid("notice_version", _("Use the version number of the notice the customer read."))
    if evidence is not None and (not isinstance(evidence, str) or has_control_characters(evidence)
                                 or len(evidence) > MAX_EVIDENCE):
        raise invalid("evidence", _("Use one line of text of at most %(n)s characters.", n=MAX_EVIDENCE))
    return purpose, granted, version, evidence


@bp.post("/customers/<int:customer_id>/consents")
@api_token("write", Permission.MANAGE_CUSTOMERS)
def customer_consent_record(customer_id: int):
    """Record the customer's choice for one purpose: 201 with the new event, or 200 when it already stands."""
    subject = _customer(customer_id)
    purpose, granted, version, evidence = _choice_input()
    try:
        row = consent.record(actor_from_request(), subject, purpose, granted=granted, source=ConsentSource.API,
                             notice_version=version, evidence=evidence)
    except consent.NotVisible:
        raise not_found() from None
    except consent.NoticeChanged as exc:
        latest = latest_notice(purpose)
        raise ApiError(409, "notice_changed", exc.message,
                       notice_version=latest.version if latest is not None else None) from None
    except consent.ConsentError as exc:
        if exc.field:
            raise invalid(exc.field, exc.message) from None
        raise ApiError(422, "consent_refused", exc.message) from None
    choices, counting = _current(subject)
    current = next(c for c in choices if c.purpose.key == purpose)
    body = {"recorded": row is not None, "event": serializers.consent_event(row, counting) if row else None,
            "choice": serializers.consent_choice(current)}
    return body, 201 if row is not None else 200
