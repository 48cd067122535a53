"""``flask push``: VAPID keys, and the periodic scan for approvals waiting too long."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app import vapid
from app.database import transaction
from app.push import services, triggers

push_cli = AppGroup("push", help="Web Push notifications (docs/PWA.md).")


@push_cli.command("generate-vapid")
def generate_vapid() -> None:
    """Print a new VAPID key pair: put VAPID_PRIVATE_KEY into the environment (keep it secret)."""
    private, public = vapid.new_key_pair()
    click.echo(f"VAPID_PRIVATE_KEY={private}")
    click.echo(f"# public key (derived from the private one; browsers subscribe with it): {public}")


@push_cli.command("approvals-waiting")
def approvals_waiting() -> None:
    """Notify the deciders of approvals waiting longer than the setting (once per approval); for cron."""
    if not services.configured():
        click.echo("push is not configured (VAPID_PRIVATE_KEY): nothing sent")
        return
    with transaction():
        noticed = triggers.notify_approvals_waiting()
    click.echo(f"{len(noticed)} approval(s) waiting too long: " + (", ".join(map(str, noticed)) or "none"))
