"""Data-subject requests: deadlines under each law, identity verification, decisions, extension."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.database import utcnow
from app.personal_data import ledger
from app.platform.models import Customer
from app.privacy import deadlines, fulfilment, verification
from app.privacy import services as privacy
from app.privacy.errors import (
    AlreadyDecided,
    AlreadyVerified,
    FulfilmentUnavailable,
    InvalidRequest,
    LinkInvalid,
    NotAllowed,
    NotVerified,
    RequestChanged,
)
from app.privacy.models import PrivacyRequest, PrivacyRequestEvent
from app.security.actor import Actor
from app.settings import services as settings
from app.users.models import Role

OFFICER = Actor(user_id=None, email="system-test")


def jakarta(*args) -> datetime:
    """A moment given in the portal's time zone (Asia/Jakarta, UTC+7), as aware UTC."""
    return (datetime(*args, tzinfo=UTC) - timedelta(hours=7)).astimezone(UTC)


def register(customer, kind="access", jurisdiction="gdpr", received_at=None, actor=OFFICER) -> PrivacyRequest:
    return privacy.register_request(actor, subject_type="customer", subject_id=customer.id, kind=kind,
                                    channel="email", jurisdiction=jurisdiction,
                                    received_at=received_at or utcnow(), details="Please show me my data.")


def send_link(req) -> str:
    tokens = []
    verification.send_confirmation_link(OFFICER, req, link_for=lambda token: tokens.append(token) or f"/x/{token}")
    return tokens[-1]


def verified(customer, **kwargs) -> PrivacyRequest:
    req = register(customer, **kwargs)
    verification.record_manual_check(OFFICER, req, "id_document", "KTP seen at the counter, ends 1234")
    return req


def actions(db) -> list[str]:
    return list(db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


# --- deadlines ---------------------------------------------------------------------------------


def test_gdpr_deadline_is_a_calendar_month_at_most(app, db):
    assert deadlines.due_at("gdpr", "access", jakarta(2027, 3, 3, 10)) == jakarta(2027, 4, 2, 10)  # 30 days < month
    # 31 January + one month is the last day of February: earlier than 30 days.
    assert deadlines.due_at("gdpr", "erasure", jakarta(2027, 1, 31, 9)) == jakarta(2027, 2, 28, 9)
    assert deadlines.due_at("gdpr", "erasure", jakarta(2028, 1, 31, 9)) == jakarta(2028, 2, 29, 9)
    settings.update(OFFICER, "privacy_gdpr_response_days", 10)
    db.session.commit()
    assert deadlines.due_at("gdpr", "objection", jakarta(2027, 3, 3, 10)) == jakarta(2027, 3, 13, 10)


def test_uu_pdp_deadlines_are_hours_from_receipt(app, db):
    received = jakarta(2027, 5, 1, 8)
    for kind in ("access", "rectification", "restriction"):
        assert deadlines.due_at("uu_pdp", kind, received) == received + timedelta(hours=72)
    settings.update(OFFICER, "privacy_uu_pdp_other_hours", 240)
    db.session.commit()
    assert deadlines.due_at("uu_pdp", "erasure", received) == received + timedelta(hours=240)
    assert deadlines.due_at("uu_pdp", "access", received) == received + timedelta(hours=72)


def test_the_3x24_hour_setting_cannot_exceed_the_law(db):
    with pytest.raises(settings.InvalidSetting):
        settings.update(OFFICER, "privacy_uu_pdp_response_hours", 96)


# --- registering -------------------------------------------------------------------------------


def test_registering_records_the_deadline_timeline_and_a_pseudonymous_audit_entry(db, make_customer):
    customer = make_customer(full_name="Siti Rahma", email="siti@contoh.co.id")
    req = register(customer, kind="erasure", jurisdiction="uu_pdp")
    db.session.commit()
    assert req.status == "received" and req.due_at == req.original_due_at == req.received_at + timedelta(hours=72)
    assert [e.kind for e in req.events] == ["registered"]
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "PRIVACY_REQUEST_REGISTER")).one()
    assert entry.resource_type == "privacyrequest" and entry.resource_id == str(req.id)
    written = f"{entry.resource_repr} {entry.description} {entry.changes}"
    assert f"customer #{customer.id}" in written and "Siti" not in written and "siti@" not in written


@pytest.mark.parametrize(("change", "field"), [
    ({"subject_id": 987654}, "subject"),
    ({"kind": "deletion"}, "kind"),
    ({"jurisdiction": "ccpa"}, "jurisdiction"),
    ({"received_at": "future"}, "received_at"),
    ({"received_at": "old"}, "received_at"),
    ({"details": "x" * 2001}, "details"),
])
def test_bad_registrations_name_the_field_and_change_nothing(db, make_customer, change, field):
    customer = make_customer()
    values = {"subject_type": "customer", "subject_id": customer.id, "kind": "access", "channel": "letter",
              "jurisdiction": "gdpr", "received_at": utcnow(), "details": ""}
    values.update(change)
    if values["received_at"] == "future":
        values["received_at"] = utcnow() + timedelta(hours=1)
    elif values["received_at"] == "old":
        values["received_at"] = utcnow() - timedelta(days=400)
    with pytest.raises(InvalidRequest) as refused:
        privacy.register_request(OFFICER, **values)
    assert refused.value.field == field
    assert db.session.scalars(select(PrivacyRequest)).all() == []


def test_only_privacy_officers_and_superadmins_handle_requests(db, make_customer, make_user):
    customer = make_customer()
    for role, allowed in ((Role.ADMIN, False), (Role.INSTITUTION_ADMIN, False), (Role.PRIVACY_OFFICER, True),
                          (Role.SUPERADMIN, True)):
        actor = Actor.for_user(make_user(role))
        if allowed:
            assert register(customer, actor=actor).registered_by_id == actor.user_id
        else:
            with pytest.raises(NotAllowed):
                register(customer, actor=actor)


# --- verification ------------------------------------------------------------------------------


def test_the_link_goes_to_the_registered_address_and_verifies_once(app, db, make_customer, outbox):
    customer = make_customer(full_name="Budi Santoso", email="budi@contoh.co.id")
    req = register(customer)
    token = send_link(req)
    db.session.commit()
    [message] = outbox
    assert message["To"] == "budi@contoh.co.id" and req.reference in message["Subject"]
    assert token not in (req.verification_token_hash or "")  # only a hash is kept
    assert verification.find_by_link(token).id == req.id
    confirmed = verification.confirm_by_link(Actor(user_id=None, email="anonymous", ip="198.51.100.7"), token)
    db.session.commit()
    assert confirmed.status == "verified" and confirmed.verification_method == "email_link"
    assert confirmed.verified_by_id is None and confirmed.verification_token_hash is None
    with pytest.raises(LinkInvalid):
        verification.confirm_by_link(Actor(user_id=None, email="anonymous"), token)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "PRIVACY_REQUEST_VERIFY")).one()
    assert entry.actor_email == "anonymous" and entry.ip == "198.51.100.7"
    assert [e.actor_label for e in req.events][-1] == verification.SUBJECT_LABEL


def test_a_new_link_voids_the_old_one_and_links_expire(app, db, make_customer):
    req = register(make_customer())
    first = send_link(req)
    second = send_link(req)
    with pytest.raises(LinkInvalid):
        verification.find_by_link(first)
    req.verification_expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    with pytest.raises(LinkInvalid):
        verification.find_by_link(second)
    with pytest.raises(LinkInvalid):
        verification.find_by_link("")


def test_a_manual_check_needs_a_method_and_what_was_checked(db, make_customer):
    req = register(make_customer())
    with pytest.raises(InvalidRequest) as no_method:
        verification.record_manual_check(OFFICER, req, "email_link", "a link is not a manual check")
    assert no_method.value.field == "method"
    with pytest.raises(InvalidRequest) as no_note:
        verification.record_manual_check(OFFICER, req, "callback", "  ")
    assert no_note.value.field == "note"
    verification.record_manual_check(OFFICER, req, "callback", "Called back +62 812 on file; confirmed")
    assert req.status == "verified" and req.verification_method == "callback"
    with pytest.raises(AlreadyVerified):
        verification.record_manual_check(OFFICER, req, "callback", "twice")
    with pytest.raises(AlreadyVerified):
        send_link(req)


# --- decisions ---------------------------------------------------------------------------------


def test_nothing_is_decided_before_verification_but_an_unverifiable_identity(db, make_customer):
    req = register(make_customer(), kind="rectification")
    with pytest.raises(NotVerified):
        privacy.complete_request(OFFICER, req, "fulfilled", "Corrected the phone number")
    with pytest.raises(NotVerified):
        privacy.refuse_request(OFFICER, req, "legal_hold", "Payment records are kept ten years")
    assert req.status == "received"
    privacy.refuse_request(OFFICER, req, "identity_not_verified", "No answer to the link or our calls in 30 days")
    db.session.commit()
    assert req.status == "refused" and req.refusal_reason == "identity_not_verified" and req.decided_at is not None


def test_a_refusal_needs_a_reason_and_its_explanation(db, make_customer):
    req = verified(make_customer(), kind="erasure")
    with pytest.raises(InvalidRequest) as no_reason:
        privacy.refuse_request(OFFICER, req, "because", "whatever")
    assert no_reason.value.field == "reason"
    with pytest.raises(InvalidRequest) as no_note:
        privacy.refuse_request(OFFICER, req, "legal_hold", " ")
    assert no_note.value.field == "note"
    privacy.refuse_request(OFFICER, req, "legal_hold", "Open loan: payment records kept under OJK rules")
    db.session.commit()
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "PRIVACY_REQUEST_REFUSE")).one()
    assert entry.changes["refusal_reason"] == "legal_hold"
    assert entry.changes["status"] == {"before": "verified", "after": "refused"}
    with pytest.raises(AlreadyDecided):
        privacy.complete_request(OFFICER, req, "fulfilled", "Too late")


def test_completing_records_the_outcome_and_what_was_done(db, make_customer):
    req = verified(make_customer(), kind="rectification")
    privacy.complete_request(OFFICER, req, "fulfilled", "Phone number corrected on the customer page")
    db.session.commit()
    assert (req.status, req.outcome) == ("completed", "fulfilled")
    assert [e.kind for e in req.events] == ["registered", "verified", "completed"]
    assert actions(db) == ["PRIVACY_REQUEST_REGISTER", "PRIVACY_REQUEST_VERIFY", "PRIVACY_REQUEST_COMPLETE"]


def test_completing_an_access_request_starts_the_export(db, make_customer, jobs_stay_queued):
    req = verified(make_customer(), kind="access")
    db.session.commit()
    assert fulfilment.available("access")
    done = privacy.complete_request(OFFICER, req, "fulfilled", "Export sent by registered mail")
    db.session.commit()
    assert done.export_job and f"Export of the subject's data started (job {done.export_job})" in req.events[-1].note
    assert jobs_stay_queued == [done.export_job]  # dispatched once the transaction committed
    assert actions(db)[-2:] == ["PRIVACY_EXPORT_START", "PRIVACY_REQUEST_COMPLETE"]


def test_completing_an_erasure_request_erases_the_subject_in_the_same_transaction(db, make_customer,
                                                                                 make_transaction):
    customer = make_customer(full_name="Dewi Kartika")
    req = verified(customer, kind="erasure")
    db.session.commit()
    assert fulfilment.available("erasure")
    privacy.complete_request(OFFICER, req, "fulfilled", "Erased on request")
    db.session.commit()
    assert db.session.get(Customer, customer.id).full_name.startswith("Erased subject #")
    assert "Erased as subject #" in req.events[-1].note and "Dewi" not in req.events[-1].note
    assert actions(db)[-2:] == ["PRIVACY_ERASE", "PRIVACY_REQUEST_COMPLETE"]
    assert [r["request_ref"] for r in ledger.ledger()] == [req.reference]


def test_an_erasure_refused_by_a_hold_leaves_the_request_open(db, make_customer, make_transaction):
    customer = make_customer()
    make_transaction(customer=customer)  # pending: open business keeps the customer
    req = verified(customer, kind="erasure")
    db.session.commit()
    with pytest.raises(FulfilmentUnavailable, match="wait for a decision"):
        privacy.complete_request(OFFICER, req, "fulfilled", "Erase")
    db.session.rollback()
    db.session.refresh(req)
    assert req.status == "verified" and ledger.ledger() == []


def test_a_form_older_than_the_request_is_refused(db, make_customer):
    req = verified(make_customer(), kind="objection")
    seen = req.version  # the version a second officer's completion form was loaded with
    privacy.extend_deadline(OFFICER, req, "Complex: several institutions involved", expected_version=seen)
    with pytest.raises(RequestChanged):
        privacy.complete_request(OFFICER, req, "fulfilled", "Stopped", expected_version=seen)
    assert req.status == "verified"


# --- extension ---------------------------------------------------------------------------------


def test_gdpr_extension_once_with_a_reason_within_three_months(db, make_customer):
    req = verified(make_customer(), kind="access", received_at=utcnow() - timedelta(days=2))
    first_due = req.due_at
    with pytest.raises(InvalidRequest):
        privacy.extend_deadline(OFFICER, req, "")
    new_due = privacy.extend_deadline(OFFICER, req, "Many requests this month; the export spans 10 years")
    assert req.original_due_at == first_due and new_due > first_due
    assert new_due <= deadlines.add_months(req.received_at, 3)
    with pytest.raises(InvalidRequest) as twice:
        privacy.extend_deadline(OFFICER, req, "Again")
    assert "once" in str(twice.value.message)
    db.session.commit()
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "PRIVACY_REQUEST_EXTEND")).one()
    assert entry.changes["due_at"]["before"] != entry.changes["due_at"]["after"]


def test_no_extension_under_uu_pdp_or_after_the_first_deadline(db, make_customer):
    uu_pdp = register(make_customer(), jurisdiction="uu_pdp")
    with pytest.raises(InvalidRequest, match="Only the GDPR"):
        privacy.extend_deadline(OFFICER, uu_pdp, "Need more time")
    late = register(make_customer(), received_at=utcnow() - timedelta(days=40))
    with pytest.raises(InvalidRequest, match="first deadline has passed"):
        privacy.extend_deadline(OFFICER, late, "Need more time")
    assert late.is_overdue()


def test_every_step_is_in_the_timeline(db, make_customer):
    req = register(make_customer(), kind="restriction")
    send_link(req)
    verification.record_manual_check(OFFICER, req, "video_call", "Face matched the KTP photo")
    privacy.complete_request(OFFICER, req, "partly_fulfilled", "Marketing stopped; payments still processed")
    db.session.commit()
    events = db.session.scalars(select(PrivacyRequestEvent).where(PrivacyRequestEvent.request_id == req.id)
                                .order_by(PrivacyRequestEvent.id)).all()
    assert [e.kind for e in events] == ["registered", "verification_sent", "verified", "completed"]
    assert events[-1].note == "Marketing stopped; payments still processed"

