"""Background jobs on Redis: the web process queues, an RQ worker process runs, both read progress."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from app.backups import services
from app.extensions import db
from app.jobs import services as jobs
from tests.backups_helpers import cli_env, load_small_demo, make_superadmin, pg_backup_app, signed_in_client
from tests.conftest import csrf_token_from
from tests.integration.conftest import create_database, drop_database

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(tmp_path, redis_url):
    url = create_database("saintara_test_jobs_rq")
    application = pg_backup_app(tmp_path, url, redis_url, JOBS_BACKEND="rq",
                                JOBS_QUEUE=f"saintara-test-{uuid.uuid4().hex[:8]}")
    with application.app_context():
        load_small_demo()
        yield application
        db.session.remove()
        db.engine.dispose()
    drop_database(url)


def test_a_backup_queued_by_the_page_runs_in_an_rq_worker(app):
    client = signed_in_client(app, make_superadmin())
    token = csrf_token_from(client.get("/backups/").get_data(as_text=True))
    assert client.post("/backups/create", data={"csrf_token": token}).status_code == 302
    job_id = jobs.recent("backups.")[0].id
    queued = client.get(f"/backups/jobs/{job_id}").get_json()
    assert queued["state"] == "queued" and queued["stage_label"] == "Waiting for a background worker…"
    page = client.get("/backups/").get_data(as_text=True)
    assert 'data-job-active="true"' in page and "Waiting for a background worker" in page

    worker = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", "--burst"],
                            cwd=ROOT, env=cli_env(app), capture_output=True, text=True, timeout=300)
    assert worker.returncode == 0, worker.stderr
    assert f"Worker listening on queue {app.config['JOBS_QUEUE']!r} (burst)" in worker.stdout

    done = client.get(f"/backups/jobs/{job_id}").get_json()  # written by the worker, read here
    assert done["state"] == "succeeded" and done["ok"] and done["percent"] == 100
    backup = services.get_backup(done["backup_id"])
    assert backup.status == "drilled" and backup.created_by == "root@example.com"
    record = jobs.get(job_id)
    assert record.started_at > record.created_at and record.heartbeat_at >= record.started_at
