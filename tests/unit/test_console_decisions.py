"""Approving and rejecting transactions and approval requests: reasons, audit, who decided first."""

import pytest
from sqlalchemy import select, text

from app.audit.models import AuditLog
from app.personal_data import vault
from app.platform.models import Approval, Transaction
from app.platform.services import decisions
from app.security.actor import Actor
from app.users.models import Role


def entries(db, action):
    return db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()


def test_approve_a_transaction_from_its_page(db, make_user, make_transaction, staff):
    admin = make_user(Role.ADMIN, display_name="Rina Admin")
    tx = make_transaction(amount_idr=2_500_000)
    forms = staff(admin)
    page = forms.client.get(f"/transactions/{tx.id}").get_data(as_text=True)
    assert "IDR\u00a02,500,000" in page and 'name="approve"' in page
    response = forms.post(f"/transactions/{tx.id}/decide", {"approve": "Approve", "reason": "Documents checked",
                                                             "version": tx.version}, page=f"/transactions/{tx.id}")
    assert response.status_code == 302
    db.session.expire_all()
    tx = db.session.get(Transaction, tx.id)
    assert (tx.status, tx.decided_by_id, tx.decision_reason) == ("approved", admin.id, "Documents checked")
    (entry,) = entries(db, "TRANSACTION_APPROVE")
    assert entry.resource_id == str(tx.id) and vault.reveal(entry.actor_email) == admin.email
    assert entry.changes["status"] == {"before": "pending", "after": "approved"}
    assert entry.changes["decision_reason"] == {"before": None, "after": "Documents checked"}
    assert entry.changes["decided_by_id"] == {"before": None, "after": admin.id}
    detail = forms.client.get(f"/transactions/{tx.id}").get_data(as_text=True)
    assert "by Rina Admin" in detail and "Documents checked" in detail and 'name="approve"' not in detail


def test_rejection_needs_a_reason_and_changes_nothing_without_one(db, make_user, make_transaction, staff):
    forms = staff(make_user(Role.ADMIN))
    tx = make_transaction()
    response = forms.post(f"/transactions/{tx.id}/decide", {"reject": "Reject", "reason": " "},
                          page=f"/transactions/{tx.id}")
    assert response.status_code == 400
    assert "Give a reason for the rejection." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Transaction, tx.id).status == "pending"
    assert entries(db, "TRANSACTION_REJECT") == []
    forms.post(f"/transactions/{tx.id}/decide", {"reject": "Reject", "reason": "Suspected duplicate"},
               page=f"/transactions/{tx.id}")
    db.session.expire_all()
    assert db.session.get(Transaction, tx.id).status == "rejected"
    assert entries(db, "TRANSACTION_REJECT")[0].changes["status"]["after"] == "rejected"


def test_second_decision_names_who_decided_first(db, make_user, make_transaction, staff):
    first, second = make_user(Role.ADMIN, display_name="Rina Admin"), make_user(Role.ADMIN, display_name="Bayu")
    tx = make_transaction()
    a, b = staff(first), staff(second)
    token_b = b.token(f"/transactions/{tx.id}")  # both opened the page while it was pending
    assert a.post(f"/transactions/{tx.id}/decide", {"approve": "1", "version": tx.version},
                  page=f"/transactions/{tx.id}").status_code == 302
    late = b.client.post(f"/transactions/{tx.id}/decide",
                         data={"csrf_token": token_b, "reject": "1", "reason": "Too late", "version": tx.version})
    body = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "Rina Admin already decided this (Approved)" in body and "Your decision was not recorded." in body
    db.session.expire_all()
    assert db.session.get(Transaction, tx.id).status == "approved"
    assert [e.result for e in entries(db, "TRANSACTION_APPROVE")] == ["success"]
    refused = entries(db, "TRANSACTION_REJECT")
    assert [e.result for e in refused] == ["failure"] and "already approved" in refused[0].description


def test_decision_on_an_outdated_page_is_refused(db, make_user, make_transaction, staff):
    forms = staff(make_user(Role.ADMIN))
    tx = make_transaction()
    db.session.execute(text("UPDATE transactions SET version = version + 1 WHERE id = :id"), {"id": tx.id})
    response = forms.post(f"/transactions/{tx.id}/decide", {"approve": "1", "version": 1},
                          page=f"/transactions/{tx.id}")
    assert response.status_code == 409 and "changed since you opened it" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Transaction, tx.id).status == "pending"


def test_a_form_without_a_decision_is_refused(make_user, make_transaction, staff):
    forms = staff(make_user(Role.ADMIN))
    tx = make_transaction()
    assert forms.post(f"/transactions/{tx.id}/decide", {"reason": "x"},
                      page=f"/transactions/{tx.id}").status_code == 400


def test_approval_request_cannot_be_decided_by_who_asked(db, make_user, make_approval, staff):
    asker = make_user(Role.ADMIN)
    approval = make_approval(requested_by=asker)
    response = staff(asker).post(f"/approvals/{approval.id}/decide", {"approve": "1"}, page=f"/approvals/{approval.id}")
    assert response.status_code == 400 and "another person must decide it" in response.get_data(as_text=True)
    other = staff(make_user(Role.ADMIN))
    assert other.post(f"/approvals/{approval.id}/decide", {"reject": "1", "reason": "Not needed"},
                      page=f"/approvals/{approval.id}").status_code == 302
    db.session.expire_all()
    decided = db.session.get(Approval, approval.id)
    assert (decided.status, decided.reason) == ("rejected", "Not needed")
    (entry,) = entries(db, "APPROVAL_REJECT")
    assert entry.changes["reason"] == {"before": None, "after": "Not needed"}


def test_approval_decided_twice_reports_the_first_decision(db, make_user, make_approval, staff):
    approval = make_approval()
    decisions.decide_approval(Actor.for_user(make_user(Role.ADMIN, display_name="First One")), approval.id,
                              approve=True)
    db.session.commit()
    response = staff(make_user(Role.ADMIN)).post(f"/approvals/{approval.id}/decide", {"approve": "1"},
                                                 page=f"/approvals/{approval.id}")
    assert response.status_code == 409 and "First One already decided this" in response.get_data(as_text=True)
    stale = staff(make_user(Role.ADMIN)).post(f"/approvals/{approval.id}/decide", {"approve": "1", "version": 1},
                                              page=f"/approvals/{approval.id}")
    assert stale.status_code == 409


def test_pending_approval_with_outdated_version_is_refused(db, make_user, make_approval, staff):
    approval = make_approval()
    db.session.execute(text("UPDATE approvals SET version = 5 WHERE id = :id"), {"id": approval.id})
    response = staff(make_user(Role.ADMIN)).post(f"/approvals/{approval.id}/decide", {"approve": "1", "version": 1},
                                                 page=f"/approvals/{approval.id}")
    assert response.status_code == 409
    bad = staff(make_user(Role.ADMIN)).post(f"/approvals/{approval.id}/decide", {"reason": "x" * 1001},
                                            page=f"/approvals/{approval.id}")
    assert bad.status_code == 400


def test_long_reason_is_refused_by_the_service(db, make_transaction):
    tx = make_transaction()
    with pytest.raises(decisions.DecisionRefused):
        decisions.decide_transaction(Actor.system("t"), tx.id, approve=True, reason="x" * 1001)
    with pytest.raises(decisions.NotVisible):
        decisions.decide_transaction(Actor.system("t"), 987654, approve=True)


def test_bulk_approve_confirms_then_approves_each_with_its_own_entry(db, make_user, make_approval, make_institution,
                                                                      staff):
    institution = make_institution()
    rows = [make_approval(institution=institution) for _ in range(3)]
    decided = make_approval(institution=institution, status="approved")
    forms = staff(make_user(Role.ADMIN))
    query = "&".join(f"id={r.id}" for r in [*rows, decided])
    confirm = forms.client.get(f"/approvals/bulk-approve?{query}")
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Approve 3 requests?" in page
    assert "1 selected request is no longer pending" in page
    assert all("Refund request" in page for _ in rows) and 'data-testid="confirm-affected"' in page
    assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "APPROVAL_APPROVE")) is None
    items = [f"{r.id}:{r.version}" for r in rows]
    response = forms.client.post("/approvals/bulk-approve",
                                 data={"csrf_token": forms.token(f"/approvals/bulk-approve?{query}"),
                                       "item": items, "reason": "Month-end batch"})
    assert response.status_code == 302
    db.session.expire_all()
    assert {db.session.get(Approval, r.id).status for r in rows} == {"approved"}
    approved = entries(db, "APPROVAL_APPROVE")
    assert sorted(int(e.resource_id) for e in approved) == sorted(r.id for r in rows)
    assert all("bulk approval of 3" in e.description for e in approved)


def test_bulk_approve_is_all_or_nothing_when_one_changed(db, make_user, make_approval, make_institution, staff):
    institution = make_institution()
    rows = [make_approval(institution=institution) for _ in range(2)]
    forms = staff(make_user(Role.ADMIN))
    token = forms.token(f"/approvals/bulk-approve?id={rows[0].id}&id={rows[1].id}")
    decisions.decide_approval(Actor.for_user(make_user(Role.ADMIN, display_name="Quick Decider")), rows[1].id,
                              approve=False, reason="No budget")
    db.session.commit()
    response = forms.client.post("/approvals/bulk-approve", data={
        "csrf_token": token, "item": [f"{r.id}:1" for r in rows]})
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "Nothing was approved" in body and "Quick Decider" in body
    db.session.expire_all()
    assert db.session.get(Approval, rows[0].id).status == "pending"


@pytest.mark.parametrize(("query", "message"), [
    ("", "Select at least one pending request"),
])
def test_bulk_approve_without_a_selection(make_user, staff, query, message):
    forms = staff(make_user(Role.ADMIN))
    response = forms.client.get(f"/approvals/bulk-approve{query}", follow_redirects=True)
    assert message in response.get_data(as_text=True)
    empty = forms.post("/approvals/bulk-approve", {"item": ["x:y"]}, page="/approvals")
    assert empty.status_code == 302
    assert "Select at least one approval request." in forms.client.get("/approvals").get_data(as_text=True)


def test_bulk_approve_limits_and_bad_form(db, make_user, make_approval, staff, monkeypatch):
    forms = staff(make_user(Role.ADMIN))
    rows = [make_approval() for _ in range(3)]
    monkeypatch.setattr(decisions, "MAX_BULK", 2)
    page = forms.client.get("/approvals/bulk-approve?" + "&".join(f"id={r.id}" for r in rows))
    assert "Select at most 100 requests at once." in page.get_data(as_text=True)
    too_many = forms.post("/approvals/bulk-approve", {"item": [f"{r.id}:1" for r in rows]}, page="/approvals")
    assert too_many.status_code == 302
    assert "Approve at most 2 requests at once." in forms.client.get("/approvals").get_data(as_text=True)
    no_csrf = forms.client.post("/approvals/bulk-approve", data={"item": f"{rows[0].id}:1"})
    assert no_csrf.status_code == 400


def test_approval_queue_is_oldest_first_and_pending_by_default(db, make_user, make_approval, staff):
    from datetime import timedelta

    from app.database import utcnow

    now = utcnow()
    newer = make_approval(summary="Newer request", requested_at=now - timedelta(hours=1))
    older = make_approval(summary="Older request", requested_at=now - timedelta(days=3))
    make_approval(summary="Already decided", status="approved")
    forms = staff(make_user(Role.ADMIN))
    page = forms.client.get("/approvals").get_data(as_text=True)
    assert page.index("Older request") < page.index("Newer request") and "Already decided" not in page
    assert "Already decided" in forms.client.get("/approvals?status=").get_data(as_text=True)
    assert older.id and newer.id
