"""The shared job status endpoint (GET /jobs/<id>): progress for the job's owner only."""

from __future__ import annotations

import time

from app.jobs.store import JobRecord, get_store
from app.users.models import Role


def save_job(app, owner_id, name="backups.create", **fields) -> JobRecord:
    record = JobRecord(id=f"20260101T000000-{int(time.time() * 1e6) % 16**8:08x}", name=name, state="running",
                       percent=12.5, stage="dumping", heartbeat_at=time.time(),
                       actor={"user_id": owner_id, "email": "owner@example.com"}, **fields)
    with app.app_context():
        get_store().save(record)
    return record


def test_only_the_owner_reads_a_jobs_progress(app, db, make_user, client_for):
    owner, other = make_user(Role.SUPERADMIN), make_user(Role.SUPERADMIN)
    record = save_job(app, owner.id)
    status = client_for(owner).get(f"/jobs/{record.id}")
    assert status.status_code == 200
    body = status.get_json()
    assert body == {**body, "id": record.id, "state": "running", "percent": 12.5, "finished": False, "ok": False}
    assert body["stage_label"] == "Dumping the database" and body["title"] == "Backup"  # the backups wording
    refused = client_for(other).get(f"/jobs/{record.id}")
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "unknown_job"
    assert client_for(owner).get("/jobs/no%20such%20job").status_code == 404
    system = save_job(app, None)
    assert client_for(owner).get(f"/jobs/{system.id}").status_code == 404  # a system job belongs to nobody


def test_a_job_without_registered_wording_gets_the_generic_fields(app, db, make_user, client_for):
    owner = make_user(Role.CUSTOMER)
    record = save_job(app, owner.id, name="exports.csv")
    body = client_for(owner).get(f"/jobs/{record.id}").get_json()
    assert body["title"] == "exports.csv" and body["stage_label"] == "dumping" and body["message"] == ""
