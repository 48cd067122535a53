"""Several people deciding the same item at the same moment, on PostgreSQL with real commits.

Each round starts threads that post their decision at once through the portal (each
request on its own database connection). Exactly one succeeds; every other sees who
decided and when; the row and the audit log hold exactly one decision.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.audit.models import AuditLog
from app.config import TEST_CONFIG
from app.extensions import db
from app.platform.models import Approval, Customer, Institution, Transaction
from app.security.actor import Actor
from app.users import services as users
from app.users.models import Role
from tests.conftest import DEFAULT_PASSWORD, FormClient, RequestIsolatedClient, csrf_token_from
from tests.integration.conftest import create_database, drop_database

pytestmark = pytest.mark.integration

ROUNDS = 30
RACERS = 4


@pytest.fixture(scope="module")
def race_app(tmp_path_factory):
    """An app on a database of its own where every request really commits."""
    url = create_database("saintara_test_race")
    application = create_app({**TEST_CONFIG, "INSTANCE_PATH": str(tmp_path_factory.mktemp("race")),
                              "SQLALCHEMY_DATABASE_URI": url, "EMBEDDED_DATABASE": False, "REDIS_URL": None,
                              "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": RACERS + 2, "max_overflow": 4}})
    application.test_client_class = RequestIsolatedClient
    with application.app_context():
        upgrade()
        institution = Institution(code="RACE01", name="Race Bank")
        db.session.add(institution)
        db.session.flush()
        customer = Customer(institution_id=institution.id, full_name="Racer", email="racer@contoh.co.id")
        db.session.add(customer)
        for n in range(RACERS):
            users.create_user(Actor.system("test"), email=f"racer{n}@example.com", display_name=f"Racer {n}",
                              role=Role.ADMIN, password=DEFAULT_PASSWORD)
        db.session.commit()
        application.config["RACE_IDS"] = (institution.id, customer.id)
    yield application
    with application.app_context():
        db.engine.dispose()
    drop_database(url)


@pytest.fixture(scope="module")
def racers(race_app):
    clients = []
    for n in range(RACERS):
        forms = FormClient(race_app.test_client())
        response = forms.post("/login", {"email": f"racer{n}@example.com", "password": DEFAULT_PASSWORD})
        assert response.status_code == 302
        clients.append(forms)
    return clients


def race(racers, url: str, page: str, decisions: list[dict]) -> list:
    """Every racer opens ``page``, then all post to ``url`` at the same moment."""
    tokens = [csrf_token_from(r.client.get(page).get_data(as_text=True)) for r in racers]
    barrier = threading.Barrier(len(racers))
    results: list = [None] * len(racers)

    def run(index: int) -> None:
        barrier.wait()
        try:
            response = racers[index].client.post(url, data={"csrf_token": tokens[index], "version": "1",
                                                            **decisions[index]})
            results[index] = (response.status_code, response.get_data(as_text=True))
        except Exception as exc:  # surfaced by the assertions below
            results[index] = (None, repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(racers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def decisions_for(round_no: int) -> list[dict]:
    return [{"approve": "Approve"} if (round_no + i) % 2 else {"reject": "Reject", "reason": f"racer {i} says no"}
            for i in range(RACERS)]


def check_round(app, results, model, row_id: int, actions: tuple[str, str]) -> None:
    statuses = Counter(status for status, _body in results)
    assert statuses == {302: 1, 409: RACERS - 1}, [(s, b[:300]) for s, b in results]
    winner = next(i for i, (status, _body) in enumerate(results) if status == 302)
    with app.app_context():
        row = db.session.get(model, row_id)
        assert row.status in ("approved", "rejected") and row.decided_by.display_name == f"Racer {winner}"
        successes = db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.resource_type == model.__name__.lower(), AuditLog.resource_id == str(row_id),
            AuditLog.action.in_(actions), AuditLog.result == "success"))
        assert successes == 1
    for status, body in results:
        if status == 409:
            assert f"Racer {winner} already decided this" in body and "Your decision was not recorded." in body


def test_racing_decisions_on_a_transaction(race_app, racers):
    _institution_id, customer_id = race_app.config["RACE_IDS"]
    for round_no in range(ROUNDS):
        with race_app.app_context():
            tx = Transaction(reference=f"TRX-RACE-{round_no:04d}", customer_id=customer_id,
                             institution_id=_institution_id, amount_idr=100_000 + round_no)
            db.session.add(tx)
            db.session.commit()
            tx_id = tx.id
        results = race(racers, f"/transactions/{tx_id}/decide", f"/transactions/{tx_id}", decisions_for(round_no))
        check_round(race_app, results, Transaction, tx_id, ("TRANSACTION_APPROVE", "TRANSACTION_REJECT"))


def test_racing_decisions_on_an_approval_request(race_app, racers):
    institution_id, _customer_id = race_app.config["RACE_IDS"]
    for round_no in range(ROUNDS):
        with race_app.app_context():
            approval = Approval(kind="refund", subject_type="customer", subject_id="1", subject_repr="customer #1",
                                institution_id=institution_id, summary=f"Race {round_no}", payload={})
            db.session.add(approval)
            db.session.commit()
            approval_id = approval.id
        results = race(racers, f"/approvals/{approval_id}/decide", f"/approvals/{approval_id}",
                       decisions_for(round_no))
        check_round(race_app, results, Approval, approval_id, ("APPROVAL_APPROVE", "APPROVAL_REJECT"))


def test_bulk_approval_racing_a_single_decision(race_app, racers):
    """One person bulk-approves two requests while another rejects one of them: never both."""
    institution_id, _customer_id = race_app.config["RACE_IDS"]
    outcomes = Counter()
    for round_no in range(ROUNDS // 2):
        with race_app.app_context():
            rows = [Approval(kind="refund", subject_type="customer", subject_id="1", subject_repr="c",
                             institution_id=institution_id, summary=f"Bulk {round_no}/{n}", payload={})
                    for n in range(2)]
            db.session.add_all(rows)
            db.session.commit()
            first, second = rows[0].id, rows[1].id
        bulk, single = racers[0], racers[1]
        bulk_token = csrf_token_from(bulk.client.get(f"/approvals/bulk-approve?id={first}&id={second}")
                                     .get_data(as_text=True))
        single_token = csrf_token_from(single.client.get(f"/approvals/{second}").get_data(as_text=True))
        barrier = threading.Barrier(2)
        results = {}

        def post(name, client, url, data, barrier=barrier, results=results):
            barrier.wait()
            results[name] = client.client.post(url, data=data).status_code

        threads = [
            threading.Thread(target=post, args=("bulk", bulk, "/approvals/bulk-approve",
                                                {"csrf_token": bulk_token, "item": [f"{first}:1", f"{second}:1"]})),
            threading.Thread(target=post, args=("single", single, f"/approvals/{second}/decide",
                                                {"csrf_token": single_token, "reject": "1", "reason": "not needed"})),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        with race_app.app_context():
            states = [db.session.get(Approval, i).status for i in (first, second)]
        if results == {"bulk": 302, "single": 409}:
            assert states == ["approved", "approved"]
            outcomes["bulk first"] += 1
        else:
            assert results == {"bulk": 409, "single": 302} and states == ["pending", "rejected"], (results, states)
            outcomes["single first"] += 1
    assert sum(outcomes.values()) == ROUNDS // 2, outcomes
