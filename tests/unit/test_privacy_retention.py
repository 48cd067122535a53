"""Retention of personal data: each category's period, a dry run that changes nothing, an audited run."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.audit.models import AuditLog
from app.consent.models import ConsentEvent, ConsentNotice
from app.database import transaction, utcnow
from app.platform.models import Approval, Customer, Transaction
from app.privacy import erasure, retention
from app.security.actor import Actor
from app.security.roles import Role
from app.users.models import User

CRON = Actor.system("cron")
LONG_AGO = utcnow() - timedelta(days=11 * 365)


def test_dry_run_counts_and_a_run_applies_every_period(db, make_customer, make_transaction, make_approval,
                                                        make_user, runner):
    gone = make_customer(full_name="Old Customer", is_active=False)
    held = make_customer(full_name="Held Customer", is_active=False)
    active = make_customer(full_name="Active Customer")
    old_payment = make_transaction(customer=active, status="approved", decided_at=LONG_AGO)
    new_payment = make_transaction(customer=active, status="approved")
    pending = make_transaction(customer=active)
    old_request = make_approval(status="rejected", decided_at=LONG_AGO)
    leaver = make_user(Role.ADMIN, email="leaver@example.com", active=False)
    current = make_user(Role.ADMIN, email="current@example.com")
    notice = ConsentNotice(purpose="notifications", version=1, material=True, text_en="n", text_id="n",
                           published_at=LONG_AGO)
    db.session.add(notice)
    db.session.flush()
    events = [ConsentEvent(subject_kind="user", subject_id=current.id, purpose="notifications", notice_id=notice.id,
                           notice_version=1, granted=granted, source="account", recorded_at=LONG_AGO)
              for granted in (True, False)]
    db.session.add_all(events)
    db.session.commit()
    old_payment, old_request, new_payment, pending = old_payment.id, old_request.id, new_payment.id, pending.id
    with transaction():
        db.session.execute(update(Customer).where(Customer.id.in_([gone.id, held.id])).values(updated_at=LONG_AGO))
        db.session.execute(update(User).where(User.id == leaver.id).values(updated_at=LONG_AGO))
        erasure.place_hold(CRON, "customer", held.id, "tax audit 2026")

    dry = runner.invoke(args=["privacy", "retention", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "customer_identity (older than 1825 days" in dry.output and ": due 2" in dry.output
    assert db.session.get(Customer, gone.id).full_name == "Old Customer"
    assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "PRIVACY_RETENTION")) is None

    runs = {run.key: run for run in retention.enforce(CRON)}
    assert (runs["customer_identity"].due, runs["customer_identity"].done) == (2, 1)
    assert list(runs["customer_identity"].refused.values()) == [1]
    assert (runs["staff_accounts"].due, runs["staff_accounts"].done) == (1, 1)
    assert (runs["financial_records"].due, runs["financial_records"].done) == (2, 2)
    assert (runs["privacy_records"].due, runs["privacy_records"].done) == (1, 1)

    assert db.session.get(Customer, gone.id).full_name.startswith("Erased subject #")
    assert db.session.get(Customer, held.id).full_name == "Held Customer"  # the hold refused it
    assert db.session.get(User, leaver.id).email.endswith("@erased.invalid")
    assert db.session.get(User, current.id).email == "current@example.com"
    assert db.session.get(Transaction, old_payment) is None and db.session.get(Approval, old_request) is None
    assert db.session.get(Transaction, new_payment) and db.session.get(Transaction, pending)
    assert [e.granted for e in db.session.scalars(select(ConsentEvent))] == [False]  # the current choice stays
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "PRIVACY_RETENTION")).one()
    assert entry.changes["financial_records"]["done"] == 2 and "Old Customer" not in entry.description

    again = {run.key: run for run in retention.enforce(CRON)}
    assert again["customer_identity"].done == 0 and again["financial_records"].due == 0
