"""Revealing a page of audit entries reads the keys of the people on it in one query."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, select

from app.audit.models import AuditLog
from app.personal_data import vault
from app.security.actor import Actor
from app.users.models import Role


@contextmanager
def key_queries(db):
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if "FROM data_subjects" in statement:
            seen.append(statement)

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_page_of_entries_by_five_people_reads_their_keys_in_one_query(db, make_user, write_audit):
    people = [make_user(Role.ADMIN) for _ in range(5)]
    for person in people:
        write_audit("USER_UPDATE", actor=Actor.for_user(person), description=f"Changed by {person.email}")
    db.session.commit()
    with key_queries(db) as seen:
        entries = db.session.scalars(select(AuditLog).where(AuditLog.action == "USER_UPDATE")
                                     .order_by(AuditLog.id)).all()
        shown = [vault.reveal(entry.actor_email) for entry in entries]
    assert all(vault.is_sealed(entry.actor_email) for entry in entries)
    assert shown == [person.email for person in people]
    assert len(seen) == 1


def test_an_erased_person_on_the_page_is_shown_as_erased(db, make_user, write_audit):
    from app.personal_data import ledger

    kept, erased = make_user(Role.ADMIN), make_user(Role.ADMIN)
    for person in (kept, erased):
        write_audit("USER_UPDATE", actor=Actor.for_user(person))
    subject_id = vault.subject("user", erased.id)[0]
    ledger.destroy_key("user", erased.id)
    db.session.commit()
    entries = db.session.scalars(select(AuditLog).where(AuditLog.action == "USER_UPDATE").order_by(AuditLog.id)).all()
    assert [vault.reveal(entry.actor_email) for entry in entries] == [kept.email, f"erased subject #{subject_id}"]


def test_the_audit_log_page_reads_its_peoples_keys_in_one_query(db, make_user, write_audit, client_for):
    people = [make_user(Role.ADMIN) for _ in range(4)]
    for person in people:
        write_audit("USER_UPDATE", actor=Actor.for_user(person))
    viewer = client_for(make_user(Role.SUPERADMIN))
    with key_queries(db) as seen:
        html = viewer.get("/audit?action=USER_UPDATE").get_data(as_text=True)
    assert all(person.email in html for person in people)
    assert len(seen) == 1


def test_the_actor_list_of_the_filter_form_reads_its_keys_in_one_query(db, make_user, write_audit, client_for):
    on_page = [make_user(Role.ADMIN) for _ in range(2)]
    elsewhere = [make_user(Role.ADMIN) for _ in range(3)]  # in the filter form's actor list only
    for person in on_page:
        write_audit("USER_UPDATE", actor=Actor.for_user(person))
    for person in elsewhere:
        write_audit("SETTINGS_UPDATE", actor=Actor.for_user(person))
    viewer = client_for(make_user(Role.SUPERADMIN))
    with key_queries(db) as seen:
        html = viewer.get("/audit?action=USER_UPDATE").get_data(as_text=True)
    assert all(person.email in html for person in on_page + elsewhere)
    assert len(seen) <= 2  # the page's people, then the form's (one query each time)


def test_a_key_is_unwrapped_once_per_process_but_read_from_the_database_every_time(
        db, make_user, write_audit, client_for, monkeypatch):
    from app.personal_data import keys
    from app.security import crypto

    unwrapped = []
    decrypter = crypto.decrypter

    def counting():
        unwrap = decrypter()
        return lambda token: unwrapped.append(token) or unwrap(token)

    monkeypatch.setattr(crypto, "decrypter", counting)
    people = [make_user(Role.ADMIN) for _ in range(3)]
    for person in people:
        write_audit("USER_UPDATE", actor=Actor.for_user(person))
    viewer = client_for(make_user(Role.SUPERADMIN))
    keys.forget()  # (writing the entries unwrapped their keys to seal them)
    first = len(unwrapped) if viewer.get("/audit?action=USER_UPDATE").status_code == 200 else None
    with key_queries(db) as seen:
        html = viewer.get("/audit?action=USER_UPDATE").get_data(as_text=True)
    assert first and first >= 3
    assert all(person.email in html for person in people)
    assert len(unwrapped) == first  # nothing unwrapped again
    assert len(seen) >= 1  # but the keys were read again


def test_a_key_destroyed_by_another_process_is_not_revealed_from_the_memo(db, make_user, write_audit):
    from app.personal_data.models import DataSubject

    person = make_user(Role.ADMIN)
    write_audit("USER_UPDATE", actor=Actor.for_user(person))
    db.session.commit()
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "USER_UPDATE")).one()
    assert vault.reveal(entry.actor_email) == person.email  # the cipher is in this process's memo now
    subject_id = vault.sealed_subject(entry.actor_email)
    # Another process erases the person: the key goes from the database; this one's memo is not told.
    db.session.execute(DataSubject.__table__.update().where(DataSubject.id == subject_id).values(wrapped_key=None))
    db.session.commit()
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "USER_UPDATE")).one()
    assert vault.reveal(entry.actor_email) == f"erased subject #{subject_id}"


def test_an_export_reads_the_keys_of_a_block_of_entries_in_one_query(db, make_user, write_audit, client_for):
    people = [make_user(Role.ADMIN) for _ in range(6)]
    for person in people:
        write_audit("USER_UPDATE", actor=Actor.for_user(person), description=f"Changed by {person.email}")
    viewer = client_for(make_user(Role.SUPERADMIN))
    with key_queries(db) as seen:
        export = viewer.get("/audit/export/csv?action=USER_UPDATE").get_data(as_text=True)
    assert all(person.email in export for person in people)
    assert "s1~" not in export
    reads = [statement for statement in seen if "kind =" not in statement]  # (not sealing the export's own entry)
    assert len(reads) == 1  # one block of entries: one query, not one per person
