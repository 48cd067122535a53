"""``flask analytics``: the stream ingester, the daily rollup and the retention purge.

    flask --app wsgi analytics ingest                 # a service beside the RQ worker (with Redis)
    10 0 * * * ... flask --app wsgi analytics rollup  # yesterday and today
    20 0 * * * ... flask --app wsgi analytics purge
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import timedelta

import click
import redis
from flask import current_app
from flask.cli import AppGroup

from app import redis_clients
from app.analytics import ingest, rollup
from app.analytics.figures import clear_rollup_figures
from app.analytics.platform_rollup import rollup_platform_day
from app.analytics.visitors import local_day
from app.database import transaction, utcnow
from app.extensions import db
from app.inputs import InvalidInput, day
from app.security.actor import Actor

log = logging.getLogger(__name__)
MAX_BACKFILL_DAYS = 3660
analytics_cli = AppGroup("analytics", help="Ingest buffered analytics events, roll them up by day, purge old ones.")


@analytics_cli.command("ingest")
@click.option("--once", is_flag=True, help="Write what is waiting, then stop (tests, cron).")
@click.option("--consumer", default=None, help="This ingester's name in the consumer group (default: host-pid).")
@click.option("--entries", type=click.IntRange(1, 10_000), default=ingest.READ_COUNT, show_default=True,
              help="Stream entries (of up to 500 events) per read and transaction.")
def ingest_command(once: bool, consumer: str | None, entries: int) -> None:
    """Write the events waiting in the Redis stream to the database (COPY), until stopped."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        raise click.ClickException("REDIS_URL is not set: without Redis, events are written by each process itself")
    client = redis_clients.client(url, timeout=10)
    stream = current_app.config["ANALYTICS_STREAM"]
    consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
    ingest.ensure_group(client, stream)
    total = 0
    while True:
        try:
            written = ingest.ingest_once(db.session, client, stream, consumer, block_ms=None if once else 1000,
                                         count=entries)
        except (redis.RedisError, OSError) as exc:
            if once:
                raise
            log.warning("analytics ingest: %s; trying again in 2 s", exc)
            db.session.remove()
            time.sleep(2)
            continue
        total += written
        # Nothing written is not the end: the read may have found only entries written before a
        # kill (acknowledged now, none written again) while new ones wait behind them.
        if once and not written and not ingest.pending(client, stream, consumer):
            if not client.xlen(stream):
                break
            time.sleep(0.05)  # entries still pending for another ingester: claimable once idle
    click.echo(f"{total} events written")


@analytics_cli.command("rollup")
@click.option("--day", "day_text", default=None, help="One local day (YYYY-MM-DD); default: yesterday and today.")
@click.option("--since", "since_text", default=None,
              help="Every local day from this one (YYYY-MM-DD) to today: the platform figures of each, and the "
                   "analytics of those whose raw events are kept (a backfill).")
def rollup_command(day_text: str | None, since_text: str | None) -> None:
    """Roll up each day (idempotent): events and visitors per name, page and role into analytics_daily, with
    day totals, milestone durations and cohorts; payments and approval turnaround per institution."""
    try:
        chosen, since = day(day_text), day(since_text)
    except InvalidInput as exc:
        raise click.BadParameter(str(exc.message), param_hint="--day/--since") from None
    today = local_day(utcnow())
    if since is not None and not today - timedelta(days=MAX_BACKFILL_DAYS) <= since <= today:
        raise click.BadParameter(f"use a day of the last {MAX_BACKFILL_DAYS} days", param_hint="--since")
    if chosen:
        days = [chosen]
    elif since:
        days = [since + timedelta(days=n) for n in range((today - since).days + 1)]
    else:
        days = [today - timedelta(days=1), today]
    cutoff = rollup.raw_cutoff(today)
    for one in days:
        with transaction():
            platform = rollup_platform_day(one) if one <= today else 0
        clear_rollup_figures()
        if since is not None and one < cutoff:
            click.echo(f"{one}: {platform} platform rows (raw analytics events past retention)")
            continue
        try:
            with transaction():
                rows = rollup.rollup_day(one, today=today)
        except rollup.RollupRefused as exc:
            raise click.ClickException(str(exc)) from None
        clear_rollup_figures()
        click.echo(f"{one}: {rows} rows, {platform} platform rows")


@analytics_cli.command("purge")
def purge_command() -> None:
    """Delete raw events and rollups past their retention settings and the salts of past days (audited)."""
    with transaction():
        run = rollup.purge(Actor.system("cron"))
    clear_rollup_figures()
    click.echo(f"deleted {run.events} raw events (before {run.raw_before}), {run.rollups} daily rows "
               f"(before {run.rollups_before}), {run.salts} salts")
