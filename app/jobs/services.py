"""Enqueue jobs, run them (in an RQ worker or a thread) and read their progress."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from flask import Flask, current_app, has_app_context, has_request_context

from app.database import after_commit
from app.extensions import db
from app.jobs.store import ACTIVE_STATES, FAILED, LOST, QUEUED, RUNNING, SUCCEEDED, JobRecord, get_store, redis_client

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5
LOST_AFTER_SECONDS = 90  # a running job whose heartbeat is older than this has died
PROGRESS_WRITE_INTERVAL = 0.5


class JobFailed(Exception):
    """Raised by a job function: the job failed with a known ``outcome`` code."""

    def __init__(self, outcome: str, message: str = "", **result):
        super().__init__(message or outcome)
        self.outcome = outcome
        self.result = result


class UnknownJob(KeyError):
    """No job function is registered under that name."""


@dataclass(frozen=True)
class JobKind:
    name: str
    func: Callable
    timeout: int


REGISTRY: dict[str, JobKind] = {}


def job(name: str, *, timeout: int = 6 * 3600):
    """Register ``func(ctx, **params) -> (outcome, result dict)`` as the job called ``name``."""

    def decorator(func: Callable) -> Callable:
        REGISTRY[name] = JobKind(name, func, timeout)
        return func

    return decorator


class JobContext:
    """What a running job uses to report progress; writes are throttled and thread-safe."""

    def __init__(self, record: JobRecord, store):
        self.record = record
        self.store = store
        self._lock = threading.Lock()
        self._last_write = 0.0

    @property
    def actor_fields(self) -> dict:
        """Who started the job, as stored (the job rebuilds its ``Actor`` from it)."""
        return dict(self.record.actor)

    def progress(self, stage: str, percent: float) -> None:
        """Report the current stage and overall percentage (0-100)."""
        with self._lock:
            changed_stage = stage != self.record.stage
            self.record.stage = stage
            self.record.percent = max(0.0, min(100.0, round(percent, 1)))
            now = time.time()
            if changed_stage or now - self._last_write >= PROGRESS_WRITE_INTERVAL:
                self._save(now)

    def heartbeat(self) -> None:
        with self._lock:
            self._save(time.time())

    def finish(self, state: str, outcome: str | None, result: dict, error: str | None = None) -> None:
        with self._lock:
            self.record.state = state
            self.record.outcome = outcome
            self.record.result = result or {}
            self.record.error = error
            self.record.finished_at = time.time()
            if state == SUCCEEDED:
                self.record.percent = 100.0
            self._save(self.record.finished_at)

    def _save(self, now: float) -> None:
        self.record.heartbeat_at = now
        self._last_write = now
        try:
            self.store.save(self.record)
        except Exception:  # progress is informative; losing one write must not fail the job
            log.warning("could not store progress of job %s", self.record.id, exc_info=True)


def new_job_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)


def enqueue(name: str, actor, **params) -> str:
    """Queue job ``name`` with JSON-able ``params``; returns its id.

    ``actor`` (an app.security.actor.Actor dataclass) is stored as its fields.
    Inside a request or an open transaction the job is dispatched only once it commits
    (never on rollback); elsewhere at once.
    """
    return _enqueue(name, actor, params, after_commit_only=True)


def enqueue_committed(name: str, actor, **params) -> str:
    """:func:`enqueue` at once, for callers that run after the commit: event subscribers
    (app.events), whose request or command may commit nothing more."""
    return _enqueue(name, actor, params, after_commit_only=False)


def _enqueue(name: str, actor, params: dict, *, after_commit_only: bool) -> str:
    if name not in REGISTRY:
        raise UnknownJob(name)
    record = JobRecord(id=new_job_id(), name=name, params=params, actor=asdict(actor))
    app = current_app._get_current_object()

    def dispatch() -> None:
        get_store().save(record)
        if app.config["JOBS_BACKEND"] == "rq":
            from rq import Queue

            Queue(app.config["JOBS_QUEUE"], connection=redis_client()).enqueue_call(
                "app.jobs.services.execute", args=(record.id,), job_id=record.id,
                timeout=REGISTRY[name].timeout, result_ttl=3600, failure_ttl=7 * 24 * 3600,
                description=name)
        else:
            # Not a daemon: a clean shutdown of this process waits for the job to finish.
            threading.Thread(target=_run_in_thread, args=(app, record.id), name=f"job-{record.id}").start()

    if after_commit_only and (has_request_context() or db.session().in_transaction()):
        after_commit(dispatch)  # the request boundary commits (or rolls back) at its end
    else:
        dispatch()
    return record.id


def _settle(record: JobRecord | None) -> JobRecord | None:
    """Mark a job whose worker died (no heartbeat for a while) as lost."""
    if record is None or record.state not in ACTIVE_STATES:
        return record
    now = time.time()
    silent_since = record.heartbeat_at or record.created_at
    thread_backend = current_app.config["JOBS_BACKEND"] == "thread"
    if (record.state == RUNNING or thread_backend) and now - silent_since > LOST_AFTER_SECONDS:
        record.state, record.outcome, record.finished_at = LOST, "lost", now
        record.error = "the worker stopped reporting (killed or restarted) before the job finished"
        get_store().save(record)
    return record


def get(job_id: str) -> JobRecord | None:
    """The job's record, or None when unknown (or expired)."""
    return _settle(get_store().get(job_id))


def recent(prefix: str = "", limit: int = 20) -> list[JobRecord]:
    """The newest jobs whose name starts with ``prefix``, newest first."""
    records = [r for r in get_store().recent(limit=200) if r.name.startswith(prefix)]
    return [_settle(r) for r in records[:limit]]


def active(prefix: str = "") -> JobRecord | None:
    """The newest queued or running job whose name starts with ``prefix``."""
    return next((r for r in recent(prefix, limit=50) if r.state in ACTIVE_STATES), None)


def execute(job_id: str) -> None:
    """Run one stored job to its end (the RQ entry point). Never raises."""
    if has_app_context():
        if current_app.config["JOBS_BACKEND"] == "rq":
            # An RQ work horse is a fork of the worker: never share its pooled connections.
            db.engine.dispose(close=False)
        _run(job_id)
        return
    from app import create_app

    with create_app().app_context():
        _run(job_id)


def _run_in_thread(app: Flask, job_id: str) -> None:
    with app.app_context():
        _run(job_id)


def _run(job_id: str) -> None:
    store = get_store()
    record = store.get(job_id)
    if record is None or record.state != QUEUED:
        log.warning("job %s is unknown or not queued; not running it", job_id)
        return
    kind = REGISTRY.get(record.name)
    ctx = JobContext(record, store)
    record.state, record.started_at = RUNNING, time.time()
    ctx.heartbeat()
    if kind is None:
        ctx.finish(FAILED, "unknown_job", {}, error=f"no job is registered as {record.name!r}")
        return
    stop = threading.Event()
    beat = threading.Thread(target=_beat, args=(ctx, stop), name=f"job-heartbeat-{job_id}", daemon=True)
    beat.start()
    try:
        outcome, result = kind.func(ctx, **record.params)
        ctx.finish(SUCCEEDED, outcome, result)
    except JobFailed as exc:
        ctx.finish(FAILED, exc.outcome, exc.result, error=str(exc))
    except Exception as exc:  # a job must always end with a state, whatever went wrong
        log.exception("job %s (%s) failed", job_id, record.name)
        ctx.finish(FAILED, "unexpected_error", {}, error=f"{type(exc).__name__}: {exc}")
    finally:
        stop.set()
        beat.join()
        db.session.remove()


def _beat(ctx: JobContext, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        ctx.heartbeat()
