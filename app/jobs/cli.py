"""``flask jobs``: run the background worker and look at recent jobs."""

from __future__ import annotations

import json
import time

import click
from flask import current_app
from flask.cli import AppGroup

from app.jobs import services
from app.jobs.store import redis_client

jobs_cli = AppGroup("jobs", help="Background jobs (backups, restores, ...).")


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs already queued, then exit.")
def worker(burst: bool) -> None:
    """Run an RQ worker for this portal's queue (production runs it under a supervisor).

    Exits 2 when jobs are not configured to run on Redis (JOBS_BACKEND=thread).
    """
    if current_app.config["JOBS_BACKEND"] != "rq":
        raise click.UsageError("jobs run in-process without Redis (JOBS_BACKEND=thread); set REDIS_URL first")
    from rq import Queue, Worker

    queue = Queue(current_app.config["JOBS_QUEUE"], connection=redis_client())
    click.echo(f"Worker listening on queue {queue.name!r}" + (" (burst)" if burst else ""))
    Worker([queue], connection=redis_client()).work(burst=burst, logging_level="INFO")


@jobs_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=20, show_default=True, help="How many of the newest jobs.")
def list_jobs(as_json: bool, limit: int) -> None:
    """List the newest jobs with their state and progress."""
    records = services.recent(limit=limit)
    if as_json:
        click.echo(json.dumps([json.loads(r.to_json()) for r in records], indent=2))
        return
    for r in records:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.created_at))
        click.echo(f"{r.id}  {r.name:<18} {r.state:<9} {r.percent:5.1f}%  {when} UTC  {r.outcome or ''}")
