"""Background jobs on Redis: the web process queues, an RQ worker process runs, both read progress."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from app.backups import catalogue
from app.jobs import services as jobs
from tests.backups_helpers import cli_env, make_superadmin, pg_app_with_demo, signed_in_client
from tests.conftest import csrf_token_from

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(tmp_path, redis_url):
    with pg_app_with_demo(tmp_path, redis_url, "saintara_test_jobs_rq", JOBS_BACKEND="rq",
                          JOBS_QUEUE=f"saintara-test-{uuid.uuid4().hex[:8]}") as application:
        yield application


def test_a_backup_queued_by_the_page_runs_in_an_rq_worker(app):
    client = signed_in_client(app, make_superadmin())
    token = csrf_token_from(client.get("/backups/").get_data(as_text=True))
    assert client.post("/backups/create", data={"csrf_token": token}).status_code == 302
    job_id = jobs.recent("backups.")[0].id
    queued = client.get(f"/jobs/{job_id}").get_json()
    assert queued["state"] == "queued" and queued["stage_label"] == "Waiting for a background worker…"
    page = client.get("/backups/").get_data(as_text=True)
    assert 'data-job-active="true"' in page and "Waiting for a background worker" in page

    worker = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", "--burst"],
                            cwd=ROOT, env=cli_env(app), capture_output=True, text=True, timeout=300)
    assert worker.returncode == 0, worker.stderr
    assert f"Worker listening on queue {app.config['JOBS_QUEUE']!r} (burst)" in worker.stdout

    done = client.get(f"/jobs/{job_id}").get_json()  # written by the worker, read here
    assert done["state"] == "succeeded" and done["ok"] and done["percent"] == 100
    backup = catalogue.get_backup(done["backup_id"])
    assert backup.status == "drilled" and backup.created_by == "root@example.com"
    record = jobs.get(job_id)
    assert record.started_at > record.created_at and record.heartbeat_at >= record.started_at
