"""The consent store on the real PostgreSQL: the database refuses changes to notices and events,
``allows`` is one index scan, two choices at once record one event, and the decision mail reaches
a real SMTP server only with consent."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from flask_migrate import upgrade
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError

from app import create_app
from app.config import TEST_CONFIG
from app.consent import notices
from app.consent import services as consent
from app.consent.models import ConsentEvent
from app.extensions import db as _db
from app.platform.models import Customer, Institution
from app.security.actor import Actor
from app.users import services as users
from app.users.models import Role
from tests.integration.conftest import create_database, drop_database

pytestmark = pytest.mark.integration
SYSTEM = Actor.system("test")


def publish(text="Mail me about my payments.", material=False):
    return notices.publish(SYSTEM, "notifications", text_en=text, text_id=f"[id] {text}", material=material)


def test_the_database_refuses_to_change_a_notice_or_an_event(db, make_customer):
    publish()
    consent.record(SYSTEM, ("customer", make_customer().id), "notifications", granted=True, source="staff",
                   notice_version=1, evidence="paper form")
    db.session.flush()
    for statement in ("UPDATE consent_notices SET text_en = 'rewritten'", "UPDATE consent_events SET granted = false"):
        with pytest.raises(DBAPIError, match="never changed"), db.session.begin_nested():
            db.session.execute(text(statement))
    assert notices.latest_notice("notifications").text_en == "Mail me about my payments."


def test_allows_reads_one_index_entry(db, make_customer):
    notice = publish()
    rows = [{"subject_kind": "customer", "subject_id": n, "purpose": "notifications", "notice_id": notice.id,
             "notice_version": 1, "granted": n % 3 == 0, "source": "staff", "evidence": "bulk", "actor_id": None}
            for n in range(1, 20_001)]
    db.session.execute(insert(ConsentEvent), rows)
    db.session.execute(text("ANALYZE consent_events"))
    assert consent.allows(("customer", 3), "notifications") and not consent.allows(("customer", 4), "notifications")
    query = (select(ConsentEvent.granted).where(consent._of(consent.Subject("customer", 3)),
                                                ConsentEvent.purpose == "notifications",
                                                consent._counts(notices.baseline_version("notifications")))
             .order_by(ConsentEvent.id.desc()).limit(1))
    compiled = query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    plan = "\n".join(db.session.execute(text(f"EXPLAIN {compiled}")).scalars())
    assert "ix_consent_events_subject" in plan and "Seq Scan on consent_events" not in plan, plan


@pytest.fixture
def committing_app(tmp_path, redis_url):
    """An app on a database of its own where work really commits (two sessions see each other)."""
    url = create_database("saintara_test_consent")
    application = create_app({**TEST_CONFIG, "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": url,
                              "EMBEDDED_DATABASE": False, "REDIS_URL": redis_url, "CACHE_TYPE": "RedisCache",
                              "CACHE_REDIS_URL": redis_url, "RATELIMIT_STORAGE_URI": redis_url})
    with application.app_context():
        upgrade()
    redis.Redis.from_url(redis_url).flushdb()
    yield application
    with application.app_context():
        _db.engine.dispose()
    drop_database(url)


def _waiting_for_a_lock(deadline: float) -> bool:
    """True once another session of this database waits for a row lock (polled, up to ``deadline``)."""
    while time.monotonic() < deadline:
        with _db.engine.connect() as connection:
            waiting = connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"))
        if waiting:
            return True
        time.sleep(0.05)
    return False


def test_two_choices_at_once_record_one_event(committing_app):
    with committing_app.app_context():
        bank = Institution(name="Bank Consent", code="CNS1")
        _db.session.add(bank)
        _db.session.flush()
        customer = Customer(institution_id=bank.id, full_name="Ani", email="ani@example.com")
        _db.session.add(customer)
        _db.session.flush()
        user = users.create_user(SYSTEM, email="ani.portal@example.com", display_name="Ani", role=Role.CUSTOMER,
                                 institution_id=bank.id, password=None)
        user.customer_id = customer.id
        publish()
        _db.session.commit()
        actor, subject = Actor.for_user(user), consent.Subject("customer", customer.id)
        # The first choice holds the customer's row until it commits.
        assert consent.record(actor, subject, "notifications", granted=True, source="account", notice_version=1)
        results = []

        def second():
            with committing_app.app_context():
                results.append(consent.record(actor, subject, "notifications", granted=True, source="account",
                                              notice_version=1))
                _db.session.commit()

        thread = threading.Thread(target=second)
        thread.start()
        waited = _waiting_for_a_lock(time.monotonic() + 30)
        _db.session.commit()
        thread.join(30)
        assert waited, "the second choice did not wait for the first"
        assert results == [None]  # it found the consent given and recorded nothing
        assert _db.session.scalar(select(func.count()).select_from(ConsentEvent)) == 1


def test_the_decision_mail_reaches_a_real_smtp_server_only_with_consent(app, db, make_user, make_customer,
                                                                         make_transaction, staff, monkeypatch,
                                                                         smtp_server):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "SMTP_HOST", smtp_server.hostname)
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)
    monkeypatch.setitem(app.config, "SMTP_STARTTLS", False)
    monkeypatch.setitem(app.config, "SMTP_USERNAME", None)
    publish()
    customer = make_customer()
    user = make_user(Role.CUSTOMER, institution=customer.institution, email="budi.pg@example.com")
    user.customer_id = customer.id
    db.session.commit()
    own, decider = staff(user), staff(make_user(Role.ADMIN))

    def decide(reference: str) -> None:
        tx = make_transaction(customer=customer, reference=reference)
        db.session.commit()
        response = decider.post(f"/transactions/{tx.id}/decide", {"approve": "x", "version": tx.version},
                                page=f"/transactions/{tx.id}")
        assert response.status_code == 302

    decide("TRX-PG-NO-CONSENT")
    assert own.post("/account/consent", {"give_notifications": "y", "version_notifications": 1},
                    page="/account").status_code == 302
    decide("TRX-PG-CONSENT")
    message = smtp_server.wait_for("budi.pg@example.com", subject="TRX-PG-CONSENT")
    assert "Payment TRX-PG-CONSENT was approved" in message["Subject"]
    assert "/account" in message.get_content()
    # The mail of the decision made without consent would have been handed over first; it never came.
    assert not [m for m in smtp_server.messages if "TRX-PG-NO-CONSENT" in (m["Subject"] or "")]
