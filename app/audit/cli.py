"""``flask audit``: integrity checks of the audit log."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from app.audit import services

audit_cli = AppGroup("audit", help="Inspect the security audit log.")


@audit_cli.command("verify")
def verify() -> None:
    """Walk the hash chain; exit 1 naming the first modified, deleted or inserted entry."""
    started = time.perf_counter()
    report = services.verify_chain()
    elapsed = time.perf_counter() - started
    if not report.ok:
        click.echo(f"BROKEN after {report.checked} good entries: {report.first_break.detail}", err=True)
        raise SystemExit(1)
    click.echo(f"OK: {report.checked} entries verified in {elapsed:.2f} s; head {report.head_id} {report.head_hash}")
