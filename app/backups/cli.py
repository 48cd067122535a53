"""``flask backup``: the commands operators script (scripts/backup/*.sh wrap them).

Exit codes: 0 success; 1 the operation failed (backup, verification, drill, or a restore
that was refused or rolled back); 2 bad usage or unknown backup; 3 another backup
operation is running; 4 a restore failed and so did the rollback (act now).
"""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click
from flask.cli import AppGroup

from app.backups import catalogue, procedures, services
from app.backups.errors import BackupError, RestoreFailed
from app.database import transaction
from app.security.actor import Actor

backup_cli = AppGroup("backup", help="Create, check, restore and expire database backups.")


class StderrProgress:
    """Progress lines on stderr: one per stage, and one per 10% within it."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.last: tuple[str, int] | None = None

    def __call__(self, stage: str, percent: float) -> None:
        step = int(percent // 10) * 10
        if self.quiet or (stage, step) == self.last:
            return
        self.last = (stage, step)
        click.echo(f"  {stage:<12} {percent:5.1f}%", err=True)


def _fail(exc: BackupError, prefix: str = "Error") -> NoReturn:
    click.echo(f"{prefix}: {exc}", err=True)
    sys.exit(exc.exit_code)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover (the loop always returns)


@backup_cli.command("create")
@click.option("--kind", type=click.Choice(["manual", "scheduled"]), default="manual", show_default=True,
              help="Recorded in the manifest; cron uses 'scheduled'.")
@click.option("--compression", type=click.Choice(["zstd", "gzip"]), default=None,
              help="Default: BACKUP_COMPRESSION (zstd).")
@click.option("--drill/--no-drill", default=None, help="Restore drill after the backup (default: the setting).")
@click.option("--no-cleanup", is_flag=True, help="Do not apply retention afterwards.")
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
def create(kind: str, compression: str | None, drill: bool | None, no_cleanup: bool, quiet: bool) -> None:
    """Back up the database, verify it (and drill it); the last line printed is the new backup's id."""
    actor = Actor.system("cron" if kind == "scheduled" else "cli")
    try:
        result = procedures.create_backup(actor, kind=kind, compression=compression, drill=drill,
                                          retention=not no_cleanup, report=StderrProgress(quiet))
    except BackupError as exc:
        click.echo(f"Error: {exc}", err=True)
        if exc.backup_id:
            click.echo(exc.backup_id)  # the backup exists (and is marked failed): scripts may inspect it
        sys.exit(exc.exit_code)
    manifest = result.manifest
    click.echo(f"Backup {result.backup_id}: {_size(manifest['size_bytes'])}, {manifest['compression']}"
               f"{', encrypted' if manifest['encryption'] else ''}, {manifest['duration_seconds']:.1f} s, verified"
               f"{', drill passed' if result.drilled else ''}"
               f"{f'; retention deleted {len(result.deleted)}' if result.deleted else ''}", err=True)
    click.echo(result.backup_id)


@backup_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (a JSON array, newest first).")
def list_backups(as_json: bool) -> None:
    """List the stored backups (the catalogue is refreshed from the storage first)."""
    with transaction():
        catalogue.sync_catalogue()
        rows = catalogue.all_backups()
        entries = [{
            "id": b.id, "created_at": b.created_at.isoformat(), "kind": b.kind, "engine": b.engine,
            "size_bytes": b.size_bytes, "compression": b.compression, "encrypted": b.encrypted,
            "alembic_revision": b.alembic_revision, "status": b.status, "verify_status": b.verify_status,
            "verified_at": b.verified_at.isoformat() if b.verified_at else None,
            "drill_status": b.drill_status, "drill_seconds": b.drill_seconds,
            "created_by": b.created_by, "sha256": b.manifest["sha256"], "artifact": b.manifest["artifact"],
        } for b in rows]
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo("No backups.")
        return
    click.echo(f"{'ID':<24} {'CREATED (UTC)':<20} {'KIND':<10} {'SIZE':>10}  {'STATUS':<10} {'DRILL':<7}")
    for e in entries:
        click.echo(f"{e['id']:<24} {e['created_at'][:19].replace('T', ' '):<20} {e['kind']:<10} "
                   f"{_size(e['size_bytes']):>10}  {e['status']:<10} {e['drill_status'] or '-':<7}")


@backup_cli.command("verify")
@click.argument("backup_id")
def verify(backup_id: str) -> None:
    """Check a backup's size, SHA-256 and archive listing against its manifest (exit 1 when it fails)."""
    try:
        manifest = procedures.verify_backup(Actor.system("cli"), backup_id)
    except BackupError as exc:
        _fail(exc, "FAILED")
    click.echo(f"OK: backup {backup_id} verified ({manifest['size_bytes']} bytes, sha256 {manifest['sha256']})")


@backup_cli.command("drill")
@click.argument("backup_id")
def drill(backup_id: str) -> None:
    """Restore a backup into a scratch database and compare it with the manifest (exit 1 when it differs)."""
    try:
        procedures.drill_backup(Actor.system("cli"), backup_id, report=StderrProgress())
    except BackupError as exc:
        _fail(exc, "FAILED")
    click.echo(f"OK: restore drill of backup {backup_id} passed")


@backup_cli.command("restore")
@click.argument("backup_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
def restore(backup_id: str, yes: bool) -> None:
    """Replace the database with a backup (a safety backup is taken first and put back on failure)."""
    try:
        manifest = services.load_manifest(backup_id)
    except BackupError as exc:
        _fail(exc)
    if not yes:
        click.echo(f"This replaces every table of {manifest['database']} with backup {backup_id} "
                   f"made {manifest['created_at']}.", err=True)
        typed = click.prompt("Type the backup id to confirm", err=True, default="", show_default=False)
        if typed.strip() != backup_id:
            click.echo("Not confirmed; nothing was changed.", err=True)
            sys.exit(1)
    try:
        result = procedures.restore_backup(Actor.system("cli"), backup_id, report=StderrProgress())
    except RestoreFailed as exc:
        if exc.rolled_back:
            _fail(exc, f"Restore FAILED; the database was rolled back to safety backup {exc.safety_id}")
        _fail(exc, f"Restore FAILED and the rollback failed too: restore safety backup {exc.safety_id} now")
    except BackupError as exc:
        _fail(exc, "Refused (nothing was changed)")
    click.echo(f"OK: restored backup {backup_id}; safety backup {result.safety_id}"
               f"{'; schema upgraded' if result.upgraded else ''}")


@backup_cli.command("cleanup")
@click.option("--dry-run", is_flag=True, help="Only print what retention would delete.")
def cleanup(dry_run: bool) -> None:
    """Apply retention (backup_retention_days, backup_keep_verified) and remove leftovers of killed backups."""
    try:
        deleted, leftovers = procedures.cleanup(Actor.system("cli"), dry_run=dry_run)
    except BackupError as exc:
        _fail(exc)
    verb = "would delete" if dry_run else "deleted"
    for backup_id in deleted:
        click.echo(f"{verb} {backup_id}")
    for name in leftovers:
        click.echo(f"removed leftover {name}")
    click.echo(f"Retention {verb} {len(deleted)} backup(s).")
