"""Background jobs without Redis: a thread runs them, files hold their progress."""

import threading
import time
from pathlib import Path

import pytest

from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import transaction
from app.jobs import services as jobs
from app.jobs.store import FileJobStore, JobRecord
from tests.backups_helpers import ACTOR, sqlite_app_with_customers, wait_for_job

release = threading.Event()


@jobs.job("tests.steps")
def steps(ctx, count: int):
    for i in range(count):
        ctx.progress("working", 100 * i / count)
    assert ctx.actor_fields["email"] == "test"
    return "done", {"count": count}


@jobs.job("tests.waits")
def waits(ctx):
    ctx.progress("waiting", 40)
    release.wait(10)
    return "done", {}


@jobs.job("tests.fails")
def fails(ctx, known: bool):
    if known:
        raise jobs.JobFailed("nope", "a known failure", backup_id="x")
    raise RuntimeError("boom")


@pytest.fixture
def app(tmp_path):
    with sqlite_app_with_customers(tmp_path) as application:
        yield application


def test_a_job_runs_in_a_thread_and_reports(app):
    job_id = jobs.enqueue("tests.steps", ACTOR, count=5)
    record = wait_for_job(job_id)
    assert record.state == "succeeded" and record.outcome == "done" and record.result == {"count": 5}
    assert record.percent == 100 and record.stage == "working" and record.started_at >= record.created_at
    assert record.finished_at >= record.started_at and record.params == {"count": 5}
    assert (Path(app.instance_path) / "jobs" / f"{job_id}.json").exists()


def test_progress_is_visible_while_the_job_runs(app):
    release.clear()
    job_id = jobs.enqueue("tests.waits", ACTOR)
    deadline = time.monotonic() + 10
    while (record := jobs.get(job_id)).state != "running" or record.stage != "waiting":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert record.percent == 40 and record.active
    assert jobs.active("tests.").id == job_id and jobs.active("other.") is None
    release.set()
    assert wait_for_job(job_id).state == "succeeded"
    assert jobs.active("tests.") is None


def test_failures_end_with_a_state(app):
    known = wait_for_job(jobs.enqueue("tests.fails", ACTOR, known=True))
    assert known.state == "failed" and known.outcome == "nope" and known.result == {"backup_id": "x"}
    assert known.error == "a known failure"
    unexpected = wait_for_job(jobs.enqueue("tests.fails", ACTOR, known=False))
    assert unexpected.outcome == "unexpected_error" and "RuntimeError: boom" in unexpected.error
    assert [r.id for r in jobs.recent("tests.fails")] == [unexpected.id, known.id]
    with pytest.raises(jobs.UnknownJob):
        jobs.enqueue("tests.nothing", ACTOR)


def test_inside_a_transaction_the_job_starts_only_after_commit(app):
    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction():
        audit.log(ACTOR, AuditAction.SYSTEM_BACKUP, description="work that asks for a job")
        dropped = jobs.enqueue("tests.steps", ACTOR, count=1)
        raise Rollback
    assert jobs.get(dropped) is None  # never dispatched
    with transaction():
        audit.log(ACTOR, AuditAction.SYSTEM_BACKUP, description="work that asks for a job")
        kept = jobs.enqueue("tests.steps", ACTOR, count=1)
        assert jobs.get(kept) is None  # not yet
    assert wait_for_job(kept).state == "succeeded"


def test_a_job_whose_worker_died_is_marked_lost(app):
    store = FileJobStore(Path(app.instance_path) / "jobs")
    stale = JobRecord(id="20200101T000000-deadbeef", name="tests.steps", state="running",
                      created_at=time.time() - 600, heartbeat_at=time.time() - 300)
    store.save(stale)
    record = jobs.get(stale.id)
    assert record.state == "lost" and record.outcome == "lost" and "stopped reporting" in record.error
    assert store.get(stale.id).state == "lost"
    # A record that is not queued is never run (a second delivery of the same job, say).
    jobs._run(stale.id)
    assert store.get(stale.id).state == "lost"


def test_unknown_and_corrupt_records(app, tmp_path):
    store = FileJobStore(tmp_path / "jobs")
    assert store.get("nothing") is None and store.recent() == []
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "broken.json").write_text("{not json")
    assert store.get("broken") is None and store.recent() == []
    store.save(JobRecord(id="a", name="tests.x", state="queued"))
    assert [r.id for r in store.recent()] == ["a"]
    assert JobRecord.from_json('{"id": "b", "name": "n", "unknown": 1}').id == "b"


def test_jobs_cli(app):
    runner = app.test_cli_runner()
    wait_for_job(jobs.enqueue("tests.steps", ACTOR, count=2))
    listed = runner.invoke(args=["jobs", "list"])
    assert listed.exit_code == 0 and "tests.steps" in listed.output and "succeeded" in listed.output
    as_json = runner.invoke(args=["jobs", "list", "--json"])
    assert '"state": "succeeded"' in as_json.output
    worker = runner.invoke(args=["jobs", "worker", "--burst"])
    assert worker.exit_code == 2 and "JOBS_BACKEND=thread" in worker.output
