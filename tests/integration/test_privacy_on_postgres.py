"""Data-subject requests on PostgreSQL and Redis: the workflow through the pages with its mails
through a real (loopback) SMTP server, the role constraint, and two reminder runs at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.audit import integrity
from app.audit.models import AuditLog
from app.config import TEST_CONFIG
from app.database import utcnow
from app.extensions import db as _db
from app.platform.models import Customer, Institution
from app.privacy import reminders
from app.privacy import services as privacy
from app.privacy.models import PrivacyRequest, PrivacyRequestEvent
from app.security.actor import Actor
from app.users import services as users
from app.users.models import Role
from tests.conftest import DEFAULT_PASSWORD, FormClient, link_in
from tests.integration.conftest import create_database, drop_database

pytestmark = pytest.mark.integration


def smtp(app, monkeypatch, smtp_server) -> None:
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "SMTP_HOST", smtp_server.hostname)
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)
    monkeypatch.setitem(app.config, "SMTP_STARTTLS", False)
    monkeypatch.setitem(app.config, "SMTP_USERNAME", None)


def test_register_confirm_by_mailed_link_and_complete(app, db, make_user, make_customer, staff, step_up,
                                                      monkeypatch, smtp_server):
    smtp(app, monkeypatch, smtp_server)
    officer = staff(make_user(Role.PRIVACY_OFFICER, email="dpo.pg@example.com"))
    step_up(officer)
    customer = make_customer(full_name="Rina Kusuma", email="rina.pg@contoh.co.id")
    db.session.commit()
    received = utcnow() - timedelta(hours=1)
    form_url = f"/privacy/requests/new?subject=customer:{customer.id}"
    created = officer.post("/privacy/requests/new", {
        "subject": f"customer:{customer.id}", "kind": "rectification", "channel": "web_form",
        "jurisdiction": "uu_pdp", "received_at": (received + timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M"),
        "details": "Nomor telepon saya salah", "send_link": "y"}, page=form_url)
    assert created.status_code == 302, created.get_data(as_text=True)[:2000]
    req = db.session.scalars(select(PrivacyRequest).where(PrivacyRequest.subject_id == customer.id)).one()
    assert req.due_at - req.received_at == timedelta(hours=72)

    message = smtp_server.wait_for("rina.pg@contoh.co.id", subject=req.reference)
    assert "Hello Rina Kusuma" in message.get_content()
    link = link_in(message, "/privacy/confirm/")
    subject = FormClient(app.test_client())
    assert "Yes, I made this request" in subject.client.get(link).get_data(as_text=True)
    assert subject.post(link, {}).status_code == 200
    assert subject.client.get(link).status_code == 410
    db.session.refresh(req)
    assert req.status == "verified"

    url = f"/privacy/requests/{req.id}"
    done = officer.post(f"{url}/complete", {"outcome": "fulfilled", "note": "Phone number corrected",
                                            "version": req.version}, page=f"{url}/complete")
    assert done.status_code == 302
    db.session.refresh(req)
    assert req.status == "completed"
    kinds = db.session.scalars(select(PrivacyRequestEvent.kind).where(PrivacyRequestEvent.request_id == req.id)
                               .order_by(PrivacyRequestEvent.id)).all()
    assert kinds == ["registered", "verification_sent", "verified", "completed"]
    logged = db.session.scalars(select(AuditLog.action).where(AuditLog.resource_type == "privacyrequest")
                                .order_by(AuditLog.id)).all()
    assert logged == ["PRIVACY_REQUEST_REGISTER", "PRIVACY_VERIFICATION_SEND", "PRIVACY_REQUEST_VERIFY",
                      "PRIVACY_REQUEST_COMPLETE"]
    assert integrity.verify_chain().ok


def test_reminder_mail_reaches_the_officer_through_smtp(app, db, make_user, make_customer, monkeypatch,
                                                        smtp_server):
    smtp(app, monkeypatch, smtp_server)
    make_user(Role.PRIVACY_OFFICER, email="dpo.remind@example.com")
    req = privacy.register_request(Actor.system("test"), subject_type="customer", subject_id=make_customer().id,
                                   kind="access", channel="letter", jurisdiction="gdpr",
                                   received_at=utcnow() - timedelta(days=32))
    db.session.commit()
    run = reminders.send_reminders(Actor.system("test"))
    db.session.commit()
    assert run.reminded == [req.reference]
    message = smtp_server.wait_for("dpo.remind@example.com", subject="needs an answer soon")
    assert req.reference in message.get_content() and "OVERDUE" in message.get_content()


def test_the_role_check_admits_privacy_officers_only(db, make_user):
    officer = make_user(Role.PRIVACY_OFFICER)
    assert db.session.scalar(text("SELECT role FROM users WHERE id = :id"), {"id": officer.id}) == "privacy_officer"
    with pytest.raises(IntegrityError, match="ck_users_role_valid"), db.session.begin_nested():
        db.session.execute(text("UPDATE users SET role = 'privacy' WHERE id = :id"), {"id": officer.id})


@pytest.fixture
def committing_app(tmp_path):
    """An app on a database of its own where every transaction really commits."""
    url = create_database("saintara_test_privacy")
    application = create_app({**TEST_CONFIG, "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": url,
                              "EMBEDDED_DATABASE": False, "REDIS_URL": None})
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        _db.engine.dispose()
    drop_database(url)


def test_two_reminder_runs_at_once_mail_about_each_request_once(committing_app):
    app = committing_app
    with app.app_context():
        system = Actor.system("test")
        users.create_user(system, email="dpo.race@example.com", display_name="DPO", role=Role.PRIVACY_OFFICER,
                          password=DEFAULT_PASSWORD)
        bank = Institution(code="PRIV01", name="Privacy Bank")
        _db.session.add(bank)
        _db.session.flush()
        for n in range(12):
            customer = Customer(institution_id=bank.id, full_name=f"Subject {n}", email=f"s{n}@contoh.co.id")
            _db.session.add(customer)
            _db.session.flush()
            privacy.register_request(system, subject_type="customer", subject_id=customer.id, kind="objection",
                                     channel="email", jurisdiction="gdpr",
                                     received_at=utcnow() - timedelta(days=29 + n % 3))
        _db.session.commit()

    barrier = threading.Barrier(2)
    runs: list = [None, None]

    def remind(index: int) -> None:
        with app.app_context():
            barrier.wait()
            runs[index] = reminders.send_reminders(Actor.system(f"cron-{index}"))
            _db.session.commit()

    threads = [threading.Thread(target=remind, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    first, second = runs
    assert first is not None and second is not None
    assert not set(first.reminded) & set(second.reminded)
    assert len(first.reminded) + len(second.reminded) == 12
    with app.app_context():
        reminded = _db.session.scalars(select(AuditLog.resource_id).where(
            AuditLog.action == "PRIVACY_REQUEST_REMIND")).all()
        assert len(reminded) == len(set(reminded)) == 12
        assert integrity.verify_chain().ok
