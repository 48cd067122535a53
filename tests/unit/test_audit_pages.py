"""The audit log pages: filters, pager, detail, timelines, exports, scope and facets."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from datetime import UTC, datetime

import pytest
from flask import render_template_string
from flask_login import login_user
from sqlalchemy import select, text, update

from app.audit import facets as facet_cache
from app.audit.models import AuditLog
from app.personal_data import vault
from app.security.actor import Actor
from app.users.models import Role, User

ENTRY_IDS = re.compile(r'data-entry-id="(\d+)"')
ALICE = Actor(user_id=11, email="alice@example.com", role="admin", ip="10.0.0.1", user_agent="Firefox",
              request_id="req-alice-0001")
SUPPORT = Actor(user_id=31, email="customer31@example.com", role="customer", impersonator_id=11,
                impersonator_email="alice@example.com", ip="10.0.0.1", request_id="req-imp-00001")


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


@pytest.fixture
def history(write_audit, make_institution, make_user, db):
    """Two institutions and a small, varied history (returned by name). Alice has an account
    (user #11): her e-mail is stored sealed, and the actor filter finds it through her account."""
    alice = make_user(email="alice@example.com")
    db.session.execute(update(User).where(User.id == alice.id).values(id=ALICE.user_id))
    db.session.commit()
    a, b = make_institution(), make_institution()
    entries = {
        "update": write_audit("CUSTOMER_UPDATE", actor=ALICE, resource_type="customer", resource_id=1,
                              resource_repr="Budi Santoso <budi@contoh.co.id>", institution_id=a.id,
                              description="Updated customer Budi Santoso", occurred_at=at(5),
                              changes={"phone": {"before": "+62 811", "after": "+62 812"}}),
        "failure": write_audit("LOGIN_FAILURE", actor=Actor(user_id=12, email="bob@example.com", ip="10.0.0.2"),
                               resource_type="user", resource_id=12, institution_id=a.id, result="failure",
                               description="Sign-in refused", occurred_at=at(10)),
        "impersonated": write_audit("TRANSACTION_CREATE", actor=SUPPORT, resource_type="transaction", resource_id=9,
                                    resource_repr="TRX-9", institution_id=b.id, description="Created TRX-9",
                                    occurred_at=at(15)),
        "formula": write_audit("TRANSACTION_APPROVE", actor=ALICE, resource_type="transaction", resource_id=9,
                               resource_repr="TRX-9", institution_id=b.id, occurred_at=at(20),
                               description='=HYPERLINK("http://evil.example","click")',
                               changes={"status": {"before": "pending", "after": "approved"}}),
        "multiline": write_audit("SETTINGS_UPDATE", actor=Actor.system("cli"), resource_type="setting",
                                 resource_id="maintenance_banner", description="first line\r\nforged line",
                                 occurred_at=at(25)),
    }
    return {"a": a, "b": b, **entries}


def listed(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return [int(i) for i in ENTRY_IDS.findall(response.get_data(as_text=True))]


def newest_first(db, predicate) -> list[int]:
    rows = db.session.scalars(select(AuditLog)).all()
    return [e.id for e in sorted(rows, key=lambda e: (e.created_at, e.id), reverse=True) if predicate(e)]


@pytest.fixture
def admin_client(make_user, client_for):
    return client_for(make_user(Role.ADMIN))


@pytest.mark.parametrize(("query", "predicate"), [
    ("", lambda e: True),
    ("actor=alice@example.com", lambda e: vault.reveal(e.actor_email) == "alice@example.com"),
    ("actor=11", lambda e: 11 in (e.actor_id, e.impersonator_id)),
    ("action=TRANSACTION_APPROVE&action=LOGIN_FAILURE", lambda e: e.action in ("TRANSACTION_APPROVE", "LOGIN_FAILURE")),
    ("action=SETTINGS_UPDATE", lambda e: e.action == "SETTINGS_UPDATE"),
    ("resource_type=transaction&resource_id=9", lambda e: (e.resource_type, e.resource_id) == ("transaction", "9")),
    ("resource_type=customer", lambda e: e.resource_type == "customer"),
    ("since=2026-01-10&until=2026-01-20", lambda e: at(9, 17) <= e.created_at < at(20, 17)),
    ("result=failure", lambda e: e.result == "failure"),
    ("ip=10.0.0.2", lambda e: e.ip == "10.0.0.2"),
    ("impersonated=1", lambda e: e.impersonator_id is not None),
    ("request_id=req-imp-00001", lambda e: e.request_id == "req-imp-00001"),
    ("q=budi", lambda e: "budi" in f"{e.description} {e.actor_email} {e.resource_repr}".lower()),
    # Names and e-mail addresses are stored sealed: the search does not see them (the actor filter does).
    ("q=TRX-9+alice", lambda e: False),
    ("q=TRX-9+created", lambda e: "trx-9" in (e.resource_repr or "").lower() and "created" in e.description.lower()),
    ("q=100%25", lambda e: False),  # LIKE wildcards in the search are plain characters
    ("action=TRANSACTION_APPROVE&action=TRANSACTION_CREATE&actor=11", lambda e: e.action.startswith("TRANSACTION")),
])
def test_each_filter_lists_exactly_its_entries_newest_first(db, history, admin_client, query, predicate):
    assert listed(admin_client.get(f"/audit?{query}&size=200")) == newest_first(db, predicate)


def test_the_pager_walks_older_and_newer_without_gaps(db, write_audit, admin_client):
    for n in range(60):
        write_audit("USER_UPDATE", description=f"change {n}", occurred_at=at(1 + n % 28, n % 24))
    everything = newest_first(db, lambda e: True)
    first = admin_client.get("/audit?size=25")
    html = first.get_data(as_text=True)
    assert listed(first) == everything[:25] and "Newer" in html
    older = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    second = admin_client.get(older)
    assert listed(second) == everything[25:50]
    newer = re.search(r'rel="prev" href="([^"]+)"', second.get_data(as_text=True)).group(1).replace("&amp;", "&")
    assert listed(admin_client.get(newer)) == everything[:25]
    assert "size=25" in older
    assert '<a class="page-link" href="/audit?size=25">Newest</a>' in second.get_data(as_text=True)


def test_a_foreign_cursor_is_refused_with_a_way_to_the_first_page(history, admin_client):
    response = admin_client.get("/audit?cursor=not-a-cursor&result=success")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This page link was not made for this list" in html
    assert 'href="/audit?result=success"' in html


def test_bad_filters_are_named_and_nothing_is_listed(history, admin_client):
    response = admin_client.get("/audit?ip=not-an-ip&q=ab&since=yesterday")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and listed(response) == []
    assert "Enter an IPv4 or IPv6 address." in html and 'value="not-an-ip"' in html
    assert "at least 3 characters" in html and "Correct the marked filters" in html


def test_the_count_is_exact_on_sqlite(history, admin_client):
    html = admin_client.get("/audit?actor=alice@example.com").get_data(as_text=True)
    assert "2 matching entries" in html


def test_detail_shows_every_field_the_changes_and_the_chain_status(db, history, admin_client):
    entry = history["formula"]
    sibling = history["update"]  # Alice's requests share one id in this history
    db.session.execute(text("UPDATE audit_logs SET description = 'edited' WHERE id = :id"),
                       {"id": sibling.id})  # on SQLite no trigger stops this
    html = admin_client.get(f"/audit/{entry.id}").get_data(as_text=True)
    for value in ("alice@example.com", "TRANSACTION_APPROVE", "TRX-9", "10.0.0.1", "Firefox", entry.hash,
                  entry.prev_hash, entry.request_id, "&#34;http://evil.example&#34;"):
        assert value in html, value
    changes = re.search(r'data-testid="audit-changes".*?</table>', html, re.S).group(0)
    assert "status" in changes and "pending" in changes and "approved" in changes
    assert f'data-entry-id="{sibling.id}"' in html  # the other entry of the same request
    status = re.search(r'data-testid="chain-status".*?</ul>', html, re.S).group(0)
    assert "Its content matches its hash" in status and "It is the newest entry" not in status
    # The sibling was edited: its own page says so.
    broken = admin_client.get(f"/audit/{sibling.id}").get_data(as_text=True)
    assert "it was modified" in broken and "Broken" in broken


def test_detail_of_the_first_entry_and_of_the_chain_head(db, history, admin_client):
    first = db.session.scalars(select(AuditLog).order_by(AuditLog.id)).first()
    assert "It is the first entry of the chain." in admin_client.get(f"/audit/{first.id}").get_data(as_text=True)
    head = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert "It is the newest entry (the chain head)." in admin_client.get(f"/audit/{head.id}").get_data(as_text=True)
    assert admin_client.get("/audit/999999").status_code == 404


def test_resource_and_actor_timelines(db, history, admin_client):
    transaction = admin_client.get("/audit/resources/transaction/9")
    assert listed(transaction) == [history["formula"].id, history["impersonated"].id]
    assert "History of transaction #9" in transaction.get_data(as_text=True)
    assert 'data-testid="audit-subject">TRX-9<' in transaction.get_data(as_text=True)
    actor = admin_client.get("/audit/actors/11")
    # Alice's own entries and what she did while impersonating customer 31.
    assert listed(actor) == [history["formula"].id, history["impersonated"].id, history["update"].id]
    assert "alice@example.com" in actor.get_data(as_text=True)
    assert listed(admin_client.get("/audit/actors/11?action=CUSTOMER_UPDATE")) == [history["update"].id]
    assert listed(admin_client.get("/audit/resources/Bad!/1")) == []


def test_a_timeline_keeps_its_subject_in_exports_and_out_of_the_filter_bar(history, admin_client):
    html = admin_client.get("/audit/resources/transaction/9?result=success").get_data(as_text=True)
    assert 'href="/audit/export/csv?resource_type=transaction&amp;resource_id=9&amp;result=success"' in html
    assert 'name="resource_type"' not in html and 'name="result"' in html and 'name="actor"' in html
    assert 'Filters <span class="badge text-bg-primary">1</span>' in html  # the result; not the subject
    actor = admin_client.get("/audit/actors/11").get_data(as_text=True)
    assert 'name="actor"' not in actor and 'name="actor_id"' not in actor and "Filters <span" not in actor


def test_institution_admins_see_only_their_institution(db, history, make_user, client_for):
    viewer = client_for(make_user(Role.INSTITUTION_ADMIN, institution=history["a"]))
    mine = newest_first(db, lambda e: e.institution_id == history["a"].id)
    assert listed(viewer.get("/audit?size=200")) == mine and set(mine) >= {history["update"].id}
    other = history["formula"]
    assert viewer.get(f"/audit/{other.id}").status_code == 404  # by id: not found, not forbidden
    assert viewer.get(f"/audit/{history['multiline'].id}").status_code == 404  # no institution: not theirs
    assert listed(viewer.get("/audit/resources/transaction/9")) == []
    assert listed(viewer.get("/audit/actors/11")) == [history["update"].id]
    export = viewer.get("/audit/export/jsonl").get_data(as_text=True)
    exported = [json.loads(line)["id"] for line in export.splitlines()]
    assert exported == newest_first(db, lambda e: e.institution_id == history["a"].id)
    assert exported[0] not in mine  # the export's own entry, about their institution, comes first
    assert "Only entries about your institution" in viewer.get("/audit").get_data(as_text=True)


def test_customers_reach_no_audit_page(history, make_user, client_for):
    customer = client_for(make_user(Role.CUSTOMER))
    for url in ("/audit", f"/audit/{history['update'].id}", "/audit/export/csv", "/audit/actors/11"):
        assert customer.get(url).status_code == 403


def test_csv_export_is_one_line_per_entry_and_never_a_formula(db, history, admin_client):
    response = admin_client.get("/audit/export/csv?resource_type=transaction&resource_id=9")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-log-')
    body = response.get_data(as_text=True)
    lines = body.split("\r\n")
    assert lines[-1] == "" and len(lines) == 1 + 2 + 1  # header, two entries, final line end
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [int(r["id"]) for r in rows] == [history["formula"].id, history["impersonated"].id]
    assert rows[0]["description"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert json.loads(rows[0]["changes"]) == {"status": {"before": "pending", "after": "approved"}}
    assert rows[1]["impersonator_email"] == "alice@example.com" and rows[0]["hash"] == history["formula"].hash

    multiline = admin_client.get("/audit/export/csv?action=SETTINGS_UPDATE").get_data(as_text=True)
    assert multiline.count("\n") == 2 and "first line\\r\\nforged line" in multiline


def test_jsonl_export_keeps_values_exactly(history, admin_client):
    body = admin_client.get("/audit/export/jsonl?action=SETTINGS_UPDATE&action=TRANSACTION_APPROVE")
    assert body.mimetype == "application/x-ndjson"
    lines = body.get_data(as_text=True).splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["action"] for r in records] == ["SETTINGS_UPDATE", "TRANSACTION_APPROVE"]
    assert records[0]["description"] == "first line\r\nforged line"
    assert records[1]["created_at"] == "2026-01-20T12:00:00.000000Z" and records[1]["changes"]["status"]


def test_an_export_is_audited_with_its_filter(db, history, admin_client):
    admin_client.get("/audit/export/csv?q=budi&action=CUSTOMER_UPDATE").close()
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "AUDIT_EXPORT")).one()
    assert entry.description == "Exported the audit log as CSV (q=budi; action=CUSTOMER_UPDATE)"
    assert vault.is_sealed(entry.actor_email) and vault.reveal(entry.actor_email).startswith("admin")
    assert entry.request_id


def test_an_export_with_a_bad_filter_is_refused(db, history, admin_client):
    response = admin_client.get("/audit/export/csv?since=never")
    assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)
    assert db.session.scalars(select(AuditLog).where(AuditLog.action == "AUDIT_EXPORT")).all() == []


def test_facets_are_cached_per_scope_until_cleared(app, db, history, write_audit):
    built = facet_cache.facets(None)
    assert "alice@example.com" in built.actors and "transaction" in built.resource_types
    assert "AUDIT_PURGE" in built.actions  # every known action is offered
    write_audit("USER_UPDATE", actor=Actor(user_id=77, email="newcomer@example.com"))
    assert "newcomer@example.com" not in facet_cache.facets(None).actors  # cached
    scoped = facet_cache.facets(history["a"].id)
    assert "customer31@example.com" not in scoped.actors and "alice@example.com" in scoped.actors
    facet_cache.clear_facet_cache()
    assert "newcomer@example.com" in facet_cache.facets(None).actors


def test_the_actors_offered_are_the_most_active_shown_in_order(db, write_audit, monkeypatch):
    monkeypatch.setattr(facet_cache, "MAX_ACTORS", 2)
    for email, times in (("zeta@example.com", 3), ("alpha@example.com", 2), ("quiet@example.com", 1)):
        for _ in range(times):
            write_audit("USER_UPDATE", actor=Actor(user_id=None, email=email))
    facet_cache.clear_facet_cache()
    assert facet_cache.facets(None).actors == ("alpha@example.com", "zeta@example.com")
    facet_cache.clear_facet_cache()


def test_facets_survive_a_cache_outage(db, history, monkeypatch):
    def broken(*_args):
        raise ConnectionError("cache down")

    monkeypatch.setattr(facet_cache.cache, "get", broken)
    monkeypatch.setattr(facet_cache.cache, "set", broken)
    assert "alice@example.com" in facet_cache.facets(None).actors
    facet_cache.clear_facet_cache()


def test_history_links_for_other_pages(app, db, make_user):
    template = ('{% from "audit/_links.html" import history_link, actor_history_link with context %}'
                '{{ history_link("customer", 5) }}|{{ actor_history_link(7) }}')
    admin, customer = make_user(Role.ADMIN), make_user(Role.CUSTOMER)
    with app.test_request_context():
        login_user(admin)
        shown = render_template_string(template)
    assert 'href="/audit/resources/customer/5"' in shown and 'href="/audit/actors/7"' in shown
    with app.test_request_context():
        login_user(customer)
        assert render_template_string(template).strip() == "|"


def test_the_navigation_offers_the_audit_log_to_staff_only(make_user, client_for):
    assert 'href="/audit"' in client_for(make_user(Role.INSTITUTION_ADMIN)).get("/dashboard").get_data(as_text=True)
    assert 'href="/audit"' not in client_for(make_user(Role.CUSTOMER)).get("/account").get_data(as_text=True)


def test_committed_entries_are_mirrored_to_the_log_on_one_line(db, write_audit, caplog):
    with caplog.at_level(logging.INFO, logger="app.audit.trail"):
        entry = write_audit("USER_UPDATE", description="evil\r\n2026-01-01 INFO forged", resource_type="user",
                            resource_id="5")
    (record,) = [r for r in caplog.records if r.name == "app.audit.trail"]
    message = record.getMessage()
    assert message.splitlines() == [message]
    assert f"audit entry {entry.id} USER_UPDATE success" in message and "evil\\r\\n2026-01-01" in message


def test_unicode_line_separators_never_split_an_export_line(db, write_audit, admin_client):
    write_audit("USER_UPDATE", description="a\u2028b\u2029c\x85d", resource_type="note", resource_id="1",
                changes={"note": {"before": "x\u2028y", "after": "z"}})
    for fmt in ("csv", "jsonl"):
        body = admin_client.get(f"/audit/export/{fmt}?resource_type=note").get_data(as_text=True)
        assert len(body.splitlines()) == (2 if fmt == "csv" else 1), fmt
    (line,) = admin_client.get("/audit/export/jsonl?resource_type=note").get_data(as_text=True).splitlines()
    record = json.loads(line)
    assert record["description"] == "a\u2028b\u2029c\x85d" and record["changes"]["note"]["before"] == "x\u2028y"
    row = next(csv.DictReader(io.StringIO(admin_client.get("/audit/export/csv?resource_type=note").get_data(
        as_text=True))))
    assert json.loads(row["changes"])["note"]["before"] == "x\u2028y"
