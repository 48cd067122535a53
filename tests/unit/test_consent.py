"""The consent store's rules: notices are versioned and immutable, the current choice is derived
from append-only events across notice versions, and who may record what."""

from __future__ import annotations

import pytest
from flask import g
from sqlalchemy import event, select

from app.audit.models import AuditLog
from app.consent import notices
from app.consent import services as consent
from app.consent.models import ConsentEvent, ConsentNotice, ConsentSource, ImmutableRecord
from app.extensions import db as _db
from app.security.actor import Actor
from app.users.models import Role

SYSTEM = Actor.system("test")
ACCOUNT, STAFF = ConsentSource.ACCOUNT, ConsentSource.STAFF


def publish(purpose="notifications", text="v", material=False):
    return notices.publish(SYSTEM, purpose, text_en=f"{text} (en)", text_id=f"{text} (id)", material=material)


@pytest.fixture
def person(db, make_user):
    """A portal account with no customer record: its own subject."""
    user = make_user(Role.ADMIN)
    return user, Actor.for_user(user), consent.Subject("user", user.id)


def give(person, purpose="notifications", granted=True, version=None):
    _user, actor, subject = person
    if version is None:
        version = notices.latest_notice(purpose).version
    return consent.record(actor, subject, purpose, granted=granted, source=ACCOUNT, notice_version=version)


def test_nothing_given_means_no(db, person):
    assert consent.allows(person[2], "notifications") is False  # not even a notice yet
    publish()
    assert consent.allows(person[2], "notifications") is False
    [analytics, notifications, replay] = sorted(consent.choices(person[2]), key=lambda c: c.purpose.key)
    assert (notifications.granted, notifications.decided_by, notifications.notice.version) == (False, None, 1)
    assert analytics.notice is None and analytics.purpose.key == "analytics"
    assert replay.notice is None and replay.purpose.key == "session_replay" and not replay.granted


def test_give_and_withdraw_each_append_one_event_and_are_audited(db, person):
    publish()
    assert give(person) is not None and consent.allows(person[2], "notifications")
    assert give(person) is None  # already given: nothing recorded
    assert give(person, granted=False) is not None and not consent.allows(person[2], "notifications")
    assert give(person, granted=False) is None
    db.session.commit()
    events = db.session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
    assert [(e.granted, e.notice_version, e.source, e.actor_id) for e in events] == [
        (True, 1, "account", person[0].id), (False, 1, "account", person[0].id)]
    entries = db.session.scalars(select(AuditLog).where(AuditLog.action.like("CONSENT_%")).order_by(AuditLog.id)).all()
    assert [e.action for e in entries] == ["CONSENT_NOTICE_PUBLISH", "CONSENT_GRANT", "CONSENT_WITHDRAW"]
    grant = entries[1]
    assert (grant.resource_type, grant.resource_id, grant.actor_id) == ("user", str(person[0].id), person[0].id)
    assert grant.changes == {"consent.notifications": {"before": False, "after": True}}
    assert entries[0].resource_type == "consentnotice" and "material" in entries[0].description


def test_a_material_version_asks_again_and_a_rewording_does_not(db, person):
    publish(text="first")
    give(person)
    publish(text="clearer wording", material=False)  # v2
    assert consent.allows(person[2], "notifications")  # consent to v1 still counts
    publish(text="new use of the data", material=True)  # v3
    assert not consent.allows(person[2], "notifications")
    [choice] = [c for c in consent.choices(person[2]) if c.purpose.key == "notifications"]
    assert (choice.granted, choice.lapsed, choice.notice.version) == (False, True, 3)
    give(person)  # agreeing again, to v3
    assert consent.allows(person[2], "notifications")
    publish(text="another rewording")  # v4, not material: v3's consent counts
    assert consent.allows(person[2], "notifications")
    [choice] = [c for c in consent.choices(person[2]) if c.purpose.key == "notifications"]
    assert (choice.granted, choice.lapsed, choice.decided_by.notice_version) == (True, False, 3)


def test_a_withdrawal_counts_whatever_version_it_names(db, person, make_customer):
    customer = make_customer()
    subject = consent.Subject("customer", customer.id)
    publish(text="first")
    publish(text="second", material=True)
    consent.record(SYSTEM, subject, "notifications", granted=True, source=STAFF, notice_version=2, evidence="form A")
    assert consent.allows(subject, "notifications")
    # A letter withdrawing on the old form still withdraws.
    consent.record(SYSTEM, subject, "notifications", granted=False, source=STAFF, notice_version=1,
                   evidence="letter on the old form")
    assert not consent.allows(subject, "notifications")
    # A consent on the old form is kept as evidence but does not count.
    consent.record(SYSTEM, subject, "notifications", granted=True, source=STAFF, notice_version=1, evidence="form B")
    assert not consent.allows(subject, "notifications")


@pytest.mark.parametrize("steps", [
    [("publish", True), ("give", 1), ("publish", False)],
    [("publish", True), ("give", 1), ("publish", True)],
    [("publish", True), ("give", 1), ("withdraw", 1), ("publish", False), ("give", 2)],
    [("publish", True), ("publish", True), ("give", 2), ("withdraw", 1)],
    [("publish", True), ("give", 1), ("publish", True), ("give", 2), ("publish", False), ("withdraw", 3)],
])
def test_the_one_query_and_the_page_derivation_agree(db, make_customer, steps):
    subject = consent.Subject("customer", make_customer().id)
    expected = False
    for number, (step, value) in enumerate(steps):
        if step == "publish":
            publish(text=f"text {number}", material=value)
            if value:
                expected = False
        else:
            consent.record(SYSTEM, subject, "notifications", granted=step == "give", source=STAFF,
                           notice_version=value, evidence=f"form {number}")
            expected = step == "give"
        [choice] = [c for c in consent.choices(subject) if c.purpose.key == "notifications"]
        assert consent.allows(subject, "notifications") == choice.granted == expected, (number, step)


def test_published_notices_and_events_never_change(db, person):
    notice = publish()
    give(person)
    db.session.commit()
    notice.text_en = "rewritten in place"
    with pytest.raises(ImmutableRecord):
        db.session.flush()
    db.session.rollback()
    row = db.session.scalars(select(ConsentEvent)).one()
    db.session.delete(row)
    with pytest.raises(ImmutableRecord):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(ConsentNotice, notice.id).text_en == "v (en)"


def test_publishing_rules(db):
    first = publish(text="one", material=False)
    assert (first.version, first.material) == (1, True)  # the first version is always material
    with pytest.raises(notices.ConsentError, match="same as the published"):
        publish(text="one")
    with pytest.raises(notices.ConsentError) as empty:
        notices.publish(SYSTEM, "notifications", text_en="  ", text_id="x", material=False)
    assert empty.value.field == "text_en"
    with pytest.raises(notices.ConsentError) as long:
        notices.publish(SYSTEM, "notifications", text_en="x", text_id="y" * 5001, material=False)
    assert long.value.field == "text_id"
    with pytest.raises(notices.UnknownPurpose):
        publish(purpose="payment_processing")  # a contract purpose: never asked for
    assert [n.version for n in notices.versions("notifications")] == [1]


def test_agreeing_needs_the_version_read_and_it_must_be_current(db, person):
    publish(text="one")
    with pytest.raises(consent.NoticeChanged):  # no version: the person did not see the notice
        consent.record(person[1], person[2], "notifications", granted=True, source=ACCOUNT)
    publish(text="two", material=True)
    with pytest.raises(consent.NoticeChanged):
        give(person, version=1)  # the page showed version 1; version 2 is asked now
    assert not consent.allows(person[2], "notifications")
    give(person, version=2)
    assert give(person, granted=False, version=1) is not None  # withdrawing works from an old page too
    assert not consent.allows(person[2], "notifications")


def test_only_the_person_chooses_for_themselves(db, person, make_user, make_customer):
    publish()
    other = make_user(Role.ADMIN)
    with pytest.raises(consent.NotVisible):
        consent.record(Actor.for_user(other), person[2], "notifications", granted=True, source=ACCOUNT,
                       notice_version=1)
    impersonated = Actor(user_id=person[0].id, email=person[0].email, role=person[0].role,
                         impersonator_id=other.id, impersonator_email=other.email)
    with pytest.raises(consent.ConsentError, match="own choice"):
        consent.record(impersonated, person[2], "notifications", granted=True, source=ACCOUNT, notice_version=1)
    with pytest.raises(consent.UnknownPurpose):
        consent.allows(person[2], "payment_processing")
    assert not consent.allows(person[2], "notifications")


def test_a_customer_account_chooses_for_its_customer_record(db, make_user, make_customer):
    publish()
    customer = make_customer()
    user = make_user(Role.CUSTOMER, institution=customer.institution)
    assert consent.subject_of_user(user) == ("user", user.id)
    user.customer_id = customer.id
    db.session.flush()
    assert consent.subject_of_user(user) == ("customer", customer.id)
    consent.record(Actor.for_user(user), consent.subject_of_user(user), "notifications", granted=True,
                   source=ACCOUNT, notice_version=1)
    assert consent.allows(("customer", customer.id), "notifications")
    assert not consent.allows(("user", user.id), "notifications")


def test_staff_record_paper_consent_within_their_scope_with_evidence(db, make_user, make_customer, make_institution):
    publish()
    home, elsewhere = make_institution(), make_institution()
    customer = make_customer(institution=home)
    subject = consent.Subject("customer", customer.id)
    local_admin = Actor.for_user(make_user(Role.INSTITUTION_ADMIN, institution=home))
    with pytest.raises(consent.ConsentError) as missing:
        consent.record(local_admin, subject, "notifications", granted=True, source=STAFF, notice_version=1,
                       evidence="   ")
    assert missing.value.field == "evidence"
    for outsider in (make_user(Role.INSTITUTION_ADMIN, institution=elsewhere),
                     make_user(Role.CUSTOMER, institution=home)):
        with pytest.raises(consent.NotVisible):
            consent.record(Actor.for_user(outsider), subject, "notifications", granted=True, source=STAFF,
                           notice_version=1, evidence="paper form")
    with pytest.raises(consent.ConsentError, match="customers only"):
        consent.record(local_admin, ("user", 1), "notifications", granted=True, source=STAFF, notice_version=1,
                       evidence="paper form")
    row = consent.record(local_admin, subject, "notifications", granted=True, source=STAFF, notice_version=1,
                         evidence="paper  form\tat the branch")
    assert (row.evidence, row.source, row.actor_id) == ("paper form at the branch", "staff", local_admin.user_id)
    assert consent.record(local_admin, subject, "notifications", granted=True, source=STAFF, notice_version=1,
                          evidence="paper form at the branch") is None  # the same record twice
    assert consent.allows(subject, "notifications")
    with pytest.raises(consent.ConsentError):
        consent.record(local_admin, subject, "notifications", granted=True, source=STAFF, notice_version=7,
                       evidence="a form of a version that was never published")


def test_history_is_plain_rows_oldest_first(db, make_customer):
    subject = consent.Subject("customer", make_customer().id)
    publish(text="one")
    consent.record(SYSTEM, subject, "notifications", granted=True, source=STAFF, notice_version=1, evidence="form")
    publish(text="two", material=True)
    consent.record(SYSTEM, subject, "notifications", granted=False, source=STAFF, notice_version=2, evidence="letter")
    rows = consent.history(subject)
    assert [(r["action"], r["notice_version"], r["notice_material"], r["counts_now"]) for r in rows] == [
        ("grant", 1, True, False), ("withdraw", 2, True, True)]
    assert set(rows[0]) == {"id", "purpose", "action", "granted", "notice_version", "notice_material", "recorded_at",
                            "source", "evidence", "actor_id", "counts_now"}
    assert rows[0]["recorded_at"].endswith("+00:00") and rows[1]["evidence"] == "letter"
    assert consent.history(("customer", 987654)) == []


def test_allows_is_one_query_and_remembered_for_the_request(app, db, person):
    publish()
    give(person)
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(_db.engine, "before_cursor_execute", count)
    try:
        with app.test_request_context("/"):
            assert consent.allows(person[2], "notifications")
            assert consent.allows(person[2], "notifications")
            assert ("user", person[0].id, "notifications") in g.consent_allows
    finally:
        event.remove(_db.engine, "before_cursor_execute", count)
    assert len([s for s in statements if "consent_events" in s]) == 1


def test_granted_count_counts_subjects_whose_consent_counts(db, make_customer):
    publish(text="one")
    subjects = [consent.Subject("customer", make_customer().id) for _ in range(3)]
    for subject in subjects:
        consent.record(SYSTEM, subject, "notifications", granted=True, source=STAFF, notice_version=1, evidence="f")
    consent.record(SYSTEM, subjects[0], "notifications", granted=False, source=STAFF, notice_version=1, evidence="l")
    assert consent.granted_count("notifications") == 2
    publish(text="two", material=True)
    assert consent.granted_count("notifications") == 0
