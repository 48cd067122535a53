"""The shared job status endpoint (GET /jobs/<id>): progress for the person who started a job,
and for whoever the job's feature lets watch it (backups: everyone who manages backups)."""

from __future__ import annotations

import time

from app.jobs import progress
from app.jobs.store import JobRecord, get_store
from app.users.models import Role


def save_job(app, owner_id, name="backups.create", **fields) -> JobRecord:
    record = JobRecord(id=f"20260101T000000-{int(time.time() * 1e6) % 16**8:08x}", name=name, state="running",
                       percent=12.5, stage="dumping", heartbeat_at=time.time(),
                       actor={"user_id": owner_id, "email": "owner@example.com" if owner_id else "system"}, **fields)
    with app.app_context():
        get_store().save(record)
    return record


def refused(response) -> bool:
    return response.status_code == 404 and response.get_json()["error"]["code"] == "unknown_job"


def test_the_owner_and_every_backup_manager_read_a_backup_jobs_progress(app, db, make_user, client_for):
    owner, other = make_user(Role.SUPERADMIN), make_user(Role.SUPERADMIN)
    record = save_job(app, owner.id)
    for reader in (owner, other):
        status = client_for(reader).get(f"/jobs/{record.id}")
        assert status.status_code == 200
        body = status.get_json()
        assert body == {**body, "id": record.id, "state": "running", "percent": 12.5, "finished": False, "ok": False}
        assert body["stage_label"] == "Dumping the database" and body["title"] == "Backup"  # the backups wording
    assert refused(client_for(owner).get("/jobs/no%20such%20job"))


def test_people_without_the_backups_permission_get_404(app, db, make_user, make_institution, client_for):
    record = save_job(app, make_user(Role.SUPERADMIN).id, name="backups.restore")
    institution = make_institution()
    for role in (Role.ADMIN, Role.INSTITUTION_ADMIN, Role.CUSTOMER):
        user = make_user(role, institution=institution if role != Role.ADMIN else None)
        assert refused(client_for(user).get(f"/jobs/{record.id}")), role


def test_a_system_backup_job_is_watched_by_backup_managers_only(app, db, make_user, client_for):
    system = save_job(app, None)
    body = client_for(make_user(Role.SUPERADMIN)).get(f"/jobs/{system.id}").get_json()
    assert body["id"] == system.id and body["title"] == "Backup"
    assert refused(client_for(make_user(Role.ADMIN)).get(f"/jobs/{system.id}"))


def test_a_job_without_registered_watchers_stays_with_its_owner(app, db, make_user, client_for):
    owner = make_user(Role.CUSTOMER)
    record = save_job(app, owner.id, name="exports.csv")
    body = client_for(owner).get(f"/jobs/{record.id}").get_json()
    assert body["title"] == "exports.csv" and body["stage_label"] == "dumping" and body["message"] == ""
    superadmin = make_user(Role.SUPERADMIN)
    assert refused(client_for(superadmin).get(f"/jobs/{record.id}"))
    system = save_job(app, None, name="exports.csv")
    assert refused(client_for(superadmin).get(f"/jobs/{system.id}"))  # a system job belongs to nobody


def test_the_owner_keeps_watching_a_job_after_losing_the_permission(app, db, make_user, client_for):
    owner = make_user(Role.SUPERADMIN)
    record = save_job(app, owner.id)
    owner.role = Role.ADMIN.value
    db.session.commit()
    assert client_for(owner).get(f"/jobs/{record.id}").status_code == 200


def test_may_watch_refuses_anonymous_visitors(app, db, make_user):
    record = JobRecord(id="20260101T000000-00000001", name="backups.create", actor={"user_id": None})

    class Anonymous:
        is_authenticated = False
        id = None

    assert not progress.may_watch(record, Anonymous()) and not progress.may_watch(record, None)
    assert progress.may_watch(record, make_user(Role.SUPERADMIN))


def test_the_backups_page_polls_every_backup_job_for_a_backup_manager(app, db, make_user, client_for):
    owner, other = make_user(Role.SUPERADMIN), make_user(Role.SUPERADMIN)
    record = save_job(app, owner.id)
    for reader in (owner, other):
        page = client_for(reader).get("/backups/").get_data(as_text=True)
        assert f'data-job-url="/jobs/{record.id}"' in page and 'data-job-active="true"' in page
    system = save_job(app, None)
    page = client_for(other).get("/backups/").get_data(as_text=True)
    assert f'data-job-url="/jobs/{system.id}"' in page
