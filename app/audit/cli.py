"""``flask audit``: verify the chain, write checkpoints, purge by retention.

Operators schedule them, e.g. ``flask audit checkpoint --anchor-file /srv/anchors.jsonl``
hourly, ``flask audit verify --anchors /srv/anchors.jsonl`` nightly and
``flask audit purge --yes`` weekly. Exit status 1 means the chain is broken (or a purge
was refused because of that); the message names the first broken entry.
"""

from __future__ import annotations

import json
import logging
import time

import click
from flask.cli import AppGroup

from app.audit import integrity, retention
from app.database import transaction, utcnow
from app.escaping import one_line
from app.security.actor import Actor
from app.settings import services as settings
from app.settings.definitions import BY_KEY

audit_cli = AppGroup("audit", help="Inspect, verify and prune the security audit log.")
log = logging.getLogger(__name__)


@audit_cli.command("verify")
@click.option("--expect", "expected", multiple=True, metavar="ID:HASH",
              help="An entry id and hash recorded elsewhere (a backup manifest); repeatable.")
@click.option("--anchors", "anchor_file", type=click.Path(exists=True, dir_okay=False),
              help="A file of anchors written by 'flask audit checkpoint --anchor-file'.")
@click.option("--batch-size", default=20_000, show_default=True, type=click.IntRange(100, 1_000_000))
def verify(expected: tuple[str, ...], anchor_file: str | None, batch_size: int) -> None:
    """Walk the hash chain; exit 1 naming the first modified, deleted or inserted entry.

    The run and its outcome are stored and shown on the audit log page.
    """
    try:
        anchors = [integrity.parse_anchor(e) for e in expected]
        if anchor_file:
            anchors += integrity.read_anchor_file(anchor_file)
    except (integrity.AnchorError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    started_at, started = utcnow(), time.perf_counter()
    with transaction():
        report = integrity.verify_chain(batch_size, anchors=anchors)
    elapsed = time.perf_counter() - started
    with transaction():
        integrity.record_verification(report, started_at=started_at, finished_at=utcnow(), source="cli")
    rate = report.checked / elapsed if elapsed > 0 else 0
    if not report.ok:
        message = f"BROKEN after {report.checked} good entries: {report.first_break.detail}"
        log.error("audit chain verification failed: %s", one_line(message))
        click.echo(message, err=True)
        raise SystemExit(1)
    anchors_note = f"; {report.anchors_checked} of {len(anchors)} anchors matched" if anchors else ""
    click.echo(f"OK: {report.checked} entries verified in {elapsed:.2f} s ({rate:,.0f} entries/s); "
               f"head {report.head_id} {report.head_hash}{anchors_note}")


@audit_cli.command("checkpoint")
@click.option("--anchor-file", type=click.Path(dir_okay=False, writable=True),
              help="Also append the checkpoint as a JSON line to this file (keep it off this host).")
def checkpoint(anchor_file: str | None) -> None:
    """Write a checkpoint entry recording the chain head, and print it as a JSON line.

    Copies of these lines kept elsewhere make a rewrite of the whole chain detectable
    (``flask audit verify --anchors FILE``).
    """
    with transaction():
        entry = integrity.write_checkpoint(Actor.system("cli"))
    line = json.dumps({"id": entry.id, "hash": entry.hash, "at": entry.created_at.isoformat(),
                       "head_id": entry.changes["head_id"], "head_hash": entry.changes["head_hash"]})
    if anchor_file:
        with open(anchor_file, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    log.info("audit checkpoint %s", line)
    click.echo(line)


@audit_cli.command("purge")
@click.option("--days", type=int, default=None,
              help="Keep this many days (default: the audit_retention_days setting).")
@click.option("--batch-size", default=retention.DEFAULT_BATCH_SIZE, show_default=True,
              type=click.IntRange(1, 100_000), help="Entries deleted per short transaction.")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scheduled runs).")
def purge(days: int | None, batch_size: int, dry_run: bool, yes: bool) -> None:
    """Remove entries older than the retention period, leaving a checkpoint so the rest verifies.

    Refuses (exit 1) when the chain is broken among the entries to remove.
    """
    setting = BY_KEY["audit_retention_days"]
    if days is None:
        days = settings.get("audit_retention_days")
    elif not setting.minimum <= days <= setting.maximum:
        raise click.BadParameter(f"keep between {setting.minimum} and {setting.maximum} days", param_hint="--days")
    try:
        with transaction():
            plan = retention.plan_purge(days=days, batch_size=batch_size)
    except retention.PurgeRefused as exc:
        click.echo(f"REFUSED: the chain is broken among the entries to remove, nothing was removed: {exc}",
                   err=True)
        raise SystemExit(1) from None
    if plan.is_empty:
        click.echo(f"Nothing to remove: no entry is older than {days} days.")
        return
    verb = "Finishing an interrupted purge of" if plan.resumed else "Removing"
    click.echo(f"{verb} {plan.count} entries ({plan.first_id} to {plan.last_id}), older than "
               f"{plan.cutoff:%Y-%m-%d %H:%M} UTC.")
    if dry_run:
        return
    if not yes:
        click.confirm("Remove them for good?", abort=True)
    if not plan.resumed:
        with transaction():
            retention.record_purge(Actor.system("cli"), plan)
    removed = 0
    while True:
        with transaction():
            deleted = retention.delete_batch(plan, batch_size)
        if not deleted:
            break
        removed += deleted
        click.echo(f"  removed {removed} of {plan.count}")
    click.echo(f"Done: removed {removed} entries; the kept chain starts after entry {plan.last_id}.")
