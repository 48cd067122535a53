"""The audit log through the API: cursor pulls for a SIEM, in chain order, scoped and filtered."""

from __future__ import annotations

import pytest

from app.api import tokens
from app.audit import services as audit
from app.security.actor import Actor
from app.users.models import Role


@pytest.fixture
def pull(app, db):
    """``pull(user, **params)``: the JSON body of GET /api/v1/audit-logs with a token of ``user``."""
    made = {}

    def do(user, expect: int = 200, **params):
        if user.id not in made:
            _token, made[user.id] = tokens.create_token(Actor.for_user(user), user, name="siem", scope="read", days=7)
            db.session.commit()
        response = app.test_client().get("/api/v1/audit-logs", query_string=params,
                                         headers={"Authorization": f"Bearer {made[user.id]}"})
        assert response.status_code == expect, response.get_data(as_text=True)
        return response.get_json()

    return do


def test_a_collector_pulls_everything_once_in_chain_order(db, make_user, write_audit, pull):
    reader = make_user(Role.ADMIN)
    for _ in range(5):
        write_audit()
    first = pull(reader, limit=3)
    assert len(first["data"]) == 3 and first["has_more"] is True
    seen = [e["id"] for e in first["data"]]
    rest = pull(reader, after=first["next_cursor"], limit=1000)
    seen += [e["id"] for e in rest["data"]]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) and rest["has_more"] is False
    for earlier, later in zip(first["data"] + rest["data"], (first["data"] + rest["data"])[1:], strict=False):
        assert later["prev_hash"] == earlier["hash"]  # the chain, as the collector sees it
    idle = pull(reader, after=rest["next_cursor"])
    assert idle["data"] == [] and idle["next_cursor"] == rest["next_cursor"]
    write_audit("USER_DEACTIVATE")
    fresh = pull(reader, after=rest["next_cursor"])
    assert [e["action"] for e in fresh["data"]] == ["USER_DEACTIVATE"]


def test_filters_and_scope_follow_the_portal(db, make_user, make_institution, write_audit, pull):
    mine, theirs = make_institution(), make_institution()
    write_audit("USER_UPDATE", institution_id=mine.id)
    write_audit("LOGIN_FAILURE", institution_id=theirs.id, result="failure")
    local_admin = make_user(Role.INSTITUTION_ADMIN, institution=mine)
    seen = pull(local_admin, limit=1000)["data"]
    assert seen and {e["institution_id"] for e in seen} == {mine.id}
    admin = make_user(Role.ADMIN)
    failures = pull(admin, result="failure", action="LOGIN_FAILURE")["data"]
    assert [e["institution_id"] for e in failures] == [theirs.id]


@pytest.mark.parametrize("params, field", [
    ({"after": "garbage"}, "after"), ({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"),
    ({"action": "drop table"}, "action"), ({"result": "maybe"}, "result"), ({"resource_id": "1"}, "resource_id"),
    ({"since": "yesterday"}, "since"), ({"actor_id": "x"}, "actor_id"), ({"request_id": "a b"}, "request_id"),
    # The portal trims what people type; the API takes values exactly as its document describes them.
    ({"action": " LOGIN_FAILURE"}, "action"), ({"action": ""}, "action"), ({"actor_id": "0"}, "actor_id"),
    ({"resource_type": "user", "resource_id": ""}, "resource_id"),
    ({"resource_type": "user", "resource_id": " 5"}, "resource_id"), ({"resource_type": "User"}, "resource_type"),
])
def test_bad_parameters_are_refused_clearly(make_user, pull, params, field):
    error = pull(make_user(Role.ADMIN), expect=400, **params)["error"]
    assert error["code"] == "validation_error" and field in error["fields"]


def test_the_shared_filters_read_as_on_the_portal(db, make_user, write_audit, pull):
    write_audit("USER_UPDATE", resource_type="note", resource_id=5)
    write_audit("USER_UPDATE", resource_type="note", resource_id=6,
                actor=Actor(user_id=None, email="cli", request_id="req-api-000001"))
    write_audit("LOGIN_FAILURE", resource_type="note", resource_id=5, result="failure")
    admin = make_user(Role.ADMIN)
    about_five = pull(admin, resource_type="note", resource_id="5")["data"]
    assert [(e["action"], e["resource_id"]) for e in about_five] == [("USER_UPDATE", "5"), ("LOGIN_FAILURE", "5")]
    several = pull(admin, action=["LOGIN_FAILURE", "USER_UPDATE"], result="success", request_id="req-api-000001")
    assert [e["resource_id"] for e in several["data"]] == ["6"]


def test_entries_carry_what_a_siem_needs(db, make_user, pull):
    actor = Actor(user_id=None, email="cli", ip="10.1.2.3", request_id="req-siem-0001")
    audit.log(actor, "SETTINGS_UPDATE", resource_type="setting", resource_id="x", description="changed",
              changes={"x": {"before": 1, "after": 2}})
    db.session.commit()
    entry = [e for e in pull(make_user(Role.SUPERADMIN), resource_type="setting")["data"]][-1]
    assert entry["ip"] == "10.1.2.3" and entry["request_id"] == "req-siem-0001"
    assert entry["changes"] == {"x": {"before": 1, "after": 2}} and entry["created_at"].endswith("Z")
    assert len(entry["hash"]) == 64


def _api_reads(db):
    from sqlalchemy import select

    from app.audit.models import AuditLog

    return db.session.execute(select(AuditLog.actor_id, AuditLog.resource_id, AuditLog.institution_id,
                                     AuditLog.description).where(AuditLog.action == "AUDIT_API_READ")
                              .order_by(AuditLog.id)).all()


def test_the_first_pull_of_each_hour_is_itself_audited(app, db, make_user, make_institution, pull, monkeypatch):
    from app.api.models import ApiToken
    from app.audit import export

    reader = make_user(Role.ADMIN)
    pull(reader, action="USER_UPDATE")
    pull(reader)
    pull(reader, limit=5)
    token_id = db.session.query(ApiToken.id).filter_by(user_id=reader.id).scalar()
    [(actor_id, resource_id, institution_id, description)] = _api_reads(db)
    assert (actor_id, resource_id, institution_id) == (reader.id, str(token_id), None)
    assert "USER_UPDATE" in description  # the filter of the pull that was recorded

    later = export.utcnow() + export.API_READ_WINDOW
    monkeypatch.setattr(export, "utcnow", lambda: later)
    pull(reader)
    assert len(_api_reads(db)) == 2

    mine = make_institution()
    local_admin = make_user(Role.INSTITUTION_ADMIN, institution=mine)
    pull(local_admin)  # another token: its own entry, in its institution's part of the log
    actor_id, _token, institution_id, _description = _api_reads(db)[-1]
    assert (actor_id, institution_id) == (local_admin.id, mine.id)


def test_a_refused_pull_records_no_read(db, make_user, pull):
    pull(make_user(Role.ADMIN), expect=400, limit="0")
    assert _api_reads(db) == []
