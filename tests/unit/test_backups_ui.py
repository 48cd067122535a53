"""The backups page: list, background jobs with progress, download and restore with step-up."""

import re
import time

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.backups import catalogue, procedures
from app.backups.engines import engine_for_app
from app.extensions import db
from app.jobs import services as jobs
from app.jobs.store import JobRecord, get_store
from app.personal_data import vault
from tests.backups_helpers import (
    ACTOR,
    add_customers,
    artifact_path,
    make_superadmin,
    read_manifest,
    signed_in_client,
    sqlite_app_with_customers,
    table_contents,
    wait_for_job,
    write_manifest,
)
from tests.conftest import csrf_token_from


@pytest.fixture
def app(tmp_path):
    with sqlite_app_with_customers(tmp_path, 10) as application:
        yield application


@pytest.fixture
def root(app):
    return make_superadmin()


def post(client, url, data=None, page="/backups/"):
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})})


def newest_job_id() -> str:
    return jobs.recent("backups.", limit=1)[0].id


def test_back_up_now_runs_in_the_background_and_reports(app, root):
    client = signed_in_client(app, root)
    empty = client.get("/backups/").get_data(as_text=True)
    assert "No backups yet" in empty and "There is no verified backup yet." in empty
    response = post(client, "/backups/create")
    assert response.status_code == 302 and response.headers["Location"] == "/backups/"
    job_id = newest_job_id()
    record = wait_for_job(job_id)
    assert record.state == "succeeded" and record.actor["email"] == "root@example.com"
    status = client.get(f"/jobs/{job_id}").get_json()
    assert status["finished"] and status["ok"] and status["percent"] == 100 and status["title"] == "Backup"
    assert re.fullmatch(r"Backup \S+ was created and verified\. The restore drill passed\.", status["message"])
    page = client.get("/backups/").get_data(as_text=True)
    assert status["backup_id"] in page and "drill passed" in page and 'data-job-active="false"' in page
    assert status["message"] in page and "The newest verified backup is" in page
    assert [vault.reveal(e) for e in db.session.scalars(
        select(AuditLog.actor_email).where(AuditLog.action == "SYSTEM_BACKUP")).all()] == [
        "root@example.com"] * 2
    # In Indonesian too.
    client.post("/language", data={"lang": "id", "next": "/backups/",
                                   "csrf_token": csrf_token_from(client.get("/backups/").get_data(as_text=True))})
    assert "dibuat dan diverifikasi" in client.get(f"/jobs/{job_id}").get_json()["message"]


def test_a_running_job_is_shown_after_a_reload_and_blocks_a_second_one(app, root):
    running = JobRecord(id="20260101T000000-0badcafe", name="backups.create", state="running", percent=42.5,
                        stage="dumping", heartbeat_at=time.time(), actor={"user_id": root.id, "email": root.email})
    get_store().save(running)
    client = signed_in_client(app, root)
    page = client.get("/backups/").get_data(as_text=True)
    assert 'data-job-active="true"' in page and 'value="42.5"' in page and "Dumping the database" in page
    assert "disabled" in page.split("Back up now")[0].rsplit("<button", 1)[1]
    post(client, "/backups/create")
    assert "Another backup operation is running" in client.get("/backups/").get_data(as_text=True)
    assert newest_job_id() == running.id
    status = client.get(f"/jobs/{running.id}").get_json()
    assert status == {**status, "state": "running", "percent": 42.5, "finished": False, "message": "",
                      "stage_label": "Dumping the database"}
    assert client.get("/jobs/nope").status_code == 404
    assert client.get("/jobs/20260101T000000-00000000").get_json()["error"]["code"] == "unknown_job"


def test_verify_and_drill_buttons(app, root):
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    client = signed_in_client(app, root)
    post(client, f"/backups/{backup_id}/verify")
    assert wait_for_job(newest_job_id()).outcome == "verified"
    post(client, f"/backups/{backup_id}/drill")
    drill = wait_for_job(newest_job_id())
    assert drill.outcome == "drilled"
    assert f"The restore drill of backup {backup_id} passed." in client.get("/backups/").get_data(as_text=True)
    manifest = read_manifest(app, backup_id)
    write_manifest(app, backup_id, {**manifest, "tables": {**manifest["tables"], "customers": 99}})
    post(client, f"/backups/{backup_id}/drill")
    failed = client.get(f"/jobs/{wait_for_job(newest_job_id()).id}").get_json()
    assert not failed["ok"] and "customers: 10 rows instead of 99" in failed["message"]
    assert post(client, "/backups/20990101T000000Z-abcdef/verify").status_code == 404


def test_download_needs_step_up_and_is_audited(app, root):
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    client = signed_in_client(app, root)
    refused = client.get(f"/backups/{backup_id}/download")
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/step-up")
    fresh = signed_in_client(app, root, stepped_up=True)
    response = fresh.get(f"/backups/{backup_id}/download")
    assert response.status_code == 200 and response.data == artifact_path(app, backup_id).read_bytes()
    assert f"{backup_id}.sqlite.zst" in response.headers["Content-Disposition"]
    response.close()
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "BACKUP_DOWNLOAD")).one()
    assert vault.reveal(entry.actor_email) == root.email and entry.resource_id == backup_id
    artifact_path(app, backup_id).unlink()
    assert fresh.get(f"/backups/{backup_id}/download").status_code == 404


def test_restore_asks_for_step_up_shows_what_changes_and_wants_the_typed_id(app, root):
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    expected = table_contents()["customers"]
    add_customers(5, prefix="Later")
    assert signed_in_client(app, root).get(f"/backups/{backup_id}/restore").headers["Location"].startswith("/step-up")
    client = signed_in_client(app, root, stepped_up=True)
    page = client.get(f"/backups/{backup_id}/restore").get_data(as_text=True)
    assert "What will be replaced" in page and "<code>customers</code>" in page
    assert re.search(r"<code>customers</code></th>\s*<td class=\"text-end\">15</td>\s*<td class=\"text-end\">10</td>",
                     page)
    assert "audit entr" in page and "A safety backup of the current database is taken first" in page
    wrong = post(client, f"/backups/{backup_id}/restore", {"confirmation": "yes"}, page=f"/backups/{backup_id}/restore")
    assert wrong.status_code == 400 and "This is not the id of the backup" in wrong.get_data(as_text=True)
    assert jobs.recent("backups.restore") == []
    response = post(client, f"/backups/{backup_id}/restore", {"confirmation": backup_id},
                    page=f"/backups/{backup_id}/restore")
    assert response.status_code == 302
    record = wait_for_job(newest_job_id())
    assert record.outcome == "restored", record.error
    assert table_contents()["customers"] == expected
    message = client.get(f"/jobs/{record.id}").get_json()["message"]
    assert message.startswith(f"Backup {backup_id} was restored.") and record.result["safety_id"] in message


def test_a_restore_that_fails_midway_says_the_data_was_rolled_back(app, root, monkeypatch):
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    add_customers(5, prefix="Precious")
    before = table_contents()
    engine_class = engine_for_app().__class__
    real = engine_class.restore
    calls = []

    def dies_halfway(self, chunks, on_bytes):
        calls.append(1)
        if len(calls) == 1:
            next(iter(chunks))
            raise OSError("the restore process was killed")
        real(self, chunks, on_bytes)

    monkeypatch.setattr(engine_class, "restore", dies_halfway)
    client = signed_in_client(app, root, stepped_up=True)
    post(client, f"/backups/{backup_id}/restore", {"confirmation": backup_id}, page=f"/backups/{backup_id}/restore")
    record = wait_for_job(newest_job_id())
    assert record.outcome == "restore_failed" and record.result["rolled_back"]
    page = client.get("/backups/").get_data(as_text=True)
    assert "The restore failed: the restore process was killed." in page
    assert f"rolled back to safety backup {record.result['safety_id']}" in page and "as it was before" in page
    assert table_contents()["customers"] == before["customers"]


def test_a_newer_backup_cannot_be_restored_from_the_page(app, root):
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    manifest = read_manifest(app, backup_id)
    write_manifest(app, backup_id, {**manifest, "alembic_revision": "9999_future"})
    with app.app_context():
        from app.database import transaction

        with transaction():
            catalogue.sync_catalogue()
    page = signed_in_client(app, root, stepped_up=True).get(f"/backups/{backup_id}/restore").get_data(as_text=True)
    assert "This backup cannot be restored" in page and "newer schema revision" in page
    assert "Restore this backup" not in page


@pytest.mark.parametrize(("outcome", "result", "expected"), [
    ("busy", {}, "Another backup operation is running"),
    ("not_found", {}, "does not exist"),
    ("backup_failed", {"detail": "disk full"}, "The backup failed and nothing was stored: disk full"),
    ("verify_failed", {"backup_id": "X", "detail": "bad"}, "Backup X failed verification: bad"),
    ("restore_refused", {"detail": "newer"}, "The restore did not start and nothing was changed: newer"),
    ("rollback_failed", {"detail": "boom", "safety_id": "S"}, "rolling back to safety backup S failed too"),
    ("lost", {}, "The background worker stopped before the job finished"),
    ("unexpected_error", {}, "The job failed unexpectedly"),
])
def test_every_outcome_has_a_message(app, outcome, result, expected):
    from app.backups import messages

    record = JobRecord(id="j", name="backups.create", state="failed", outcome=outcome, result=result)
    with app.test_request_context():
        assert expected in messages.describe(record)
        assert messages.as_json(record)["ok"] is False
        assert messages.stage_label(JobRecord(id="k", name="backups.create", state="running")) == "Starting…"


def test_a_bad_page_cursor_is_a_bad_request(app, root):
    assert signed_in_client(app, root).get("/backups/?cursor=%%%").status_code == 400


def test_the_dashboard_card_shows_the_age_of_the_newest_verified_backup(app, root):
    from datetime import timedelta

    from app.database import transaction, utcnow

    client = signed_in_client(app, root)
    card = re.compile(r'data-testid="status-newest_verified_backup">.*?</div>\s*</div>', re.S)
    assert "No backup has passed verification yet." in card.search(client.get("/dashboard").get_data(as_text=True))[0]
    backup_id = procedures.create_backup(ACTOR, drill=False).backup_id
    fresh = card.search(client.get("/dashboard").get_data(as_text=True))[0]
    assert f"Backup {backup_id}" in fresh and "status-ok" in client.get("/dashboard").get_data(as_text=True)
    manifest = read_manifest(app, backup_id)
    write_manifest(app, backup_id, {**manifest, "created_at": (utcnow() - timedelta(hours=30)).isoformat()})
    with transaction():
        catalogue.sync_catalogue()
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Older than 26 hours" in card.search(page)[0] and "status-warning" in page
