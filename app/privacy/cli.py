"""``flask privacy``: erasure, legal holds, retention, the erasure ledger and reminders of
data-subject requests, for operators and cron.

    0 8 * * * ... flask --app wsgi privacy remind

``remind`` exits 1 when reminders were due but no privacy officer or superadmin could be
mailed, or the mail server did not take the mails in time (the command says which).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app import mail
from app.backups import erasures as erasure_copy
from app.database import transaction
from app.personal_data import ledger
from app.privacy import erasure, exports, reminders, retention
from app.privacy.export import NoSuchPerson
from app.security.actor import Actor

privacy_cli = AppGroup("privacy", help="Erase people, hold their data, apply retention, keep the erasure ledger, "
                                       "remind of data-subject requests.")
KINDS = click.Choice(["customer", "user"])


@privacy_cli.command("erase")
@click.argument("kind", type=KINDS)
@click.argument("ref_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--request", "request_ref", default=None, help="The data-subject request this fulfils.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase(kind: str, ref_id: int, request_ref: str | None, yes: bool) -> None:
    """Erase customer or account REF_ID: pseudonymise it and destroy its key (exit 1 when refused)."""
    if not yes:
        click.confirm(f"Erase {kind} {ref_id}? Their personal data becomes unreadable everywhere, "
                      "in backups too. This cannot be undone.", abort=True)
    try:
        with transaction():
            receipt = erasure.erase_subject(Actor.system("cli"), kind, ref_id, request_ref=request_ref)
    except erasure.ErasureRefused as exc:
        raise click.ClickException(f"erasure refused: {exc.reason}") from None
    click.echo(json.dumps(receipt.as_json()))


@privacy_cli.command("hold")
@click.argument("kind", type=KINDS)
@click.argument("ref_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--reason", required=True, help="Why the data must be kept (it is audited).")
def hold(kind: str, ref_id: int, reason: str) -> None:
    """Place a legal hold: erasure of this person is refused until it is lifted."""
    with transaction():
        erasure.place_hold(Actor.system("cli"), kind, ref_id, reason.strip()[:500])
    click.echo(f"Legal hold placed on {kind} {ref_id}.")


@privacy_cli.command("lift-hold")
@click.argument("kind", type=KINDS)
@click.argument("ref_id", type=click.IntRange(1, 2**31 - 1))
def lift_hold(kind: str, ref_id: int) -> None:
    """Lift a person's legal hold."""
    with transaction():
        erasure.lift_hold(Actor.system("cli"), kind, ref_id)
    click.echo(f"Legal hold on {kind} {ref_id} lifted.")


@privacy_cli.command("retention")
@click.option("--dry-run", is_flag=True, help="Count what is due, change nothing.")
def retention_command(dry_run: bool) -> None:
    """Apply the retention periods of personal data (cron, daily); prints what each rule found and did."""
    runs = retention.enforce(Actor.system("cron"), dry_run=dry_run)
    for run in runs:
        refused = "; ".join(f"{count} refused: {reason}" for reason, count in run.refused.items())
        verb = "due" if dry_run else f"{run.done} done of"
        click.echo(f"{run.key} (older than {run.days} days, before {run.cutoff:%Y-%m-%d}): {verb} {run.due}"
                   + (f" ({refused})" if refused else ""))


@privacy_cli.command("ledger")
def show_ledger() -> None:
    """Print the erasure ledger as JSON lines (no personal data): keep a copy with the backups."""
    for record in ledger.ledger():
        click.echo(json.dumps(record))


@privacy_cli.command("reapply-ledger")
@click.option("--file", "path", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="A ledger: the backup storage's erasure-ledger.json, or `flask privacy ledger` output.")
def reapply_ledger(path: str | None) -> None:
    """Erase again everyone in the ledger whose data is readable (after restoring a database by hand).

    Without --file: the database's own ledger and the copy in the backup storage.
    """
    if path:
        handle = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
        with handle:
            records = parse_ledger(handle.read())
    else:
        records = erasure_copy.to_reapply()
    with transaction():
        count = ledger.reapply(records)
    click.echo(f"{count} subject(s) erased again.")


def parse_ledger(content: str) -> list[dict]:
    """Ledger records from a JSON object ``{"records": [...]}`` or from JSON lines."""
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        return data["records"]
    try:
        return [json.loads(line) for line in content.splitlines() if line.strip()]
    except ValueError:
        raise click.ClickException("the file is not an erasure ledger (a JSON object or JSON lines)") from None


def _link_builder():
    """Links to a request's page, when PUBLIC_URL says where the portal is (else no links)."""
    base = current_app.config.get("PUBLIC_URL")
    if not base:
        return lambda _request_id: None

    def build(request_id: int) -> str:
        with current_app.test_request_context(base_url=base):
            return mail.public_url("privacy.request_detail", request_id=request_id)

    return build


@privacy_cli.command("remind")
def remind() -> None:
    """Mail privacy officers (or, without any, superadmins) about open requests due within
    the 'privacy_reminder_hours' setting or overdue: at most once a day per request."""
    with transaction():
        run = reminders.send_reminders(Actor.system("privacy-remind"), link_for=_link_builder())
    if run.due and not run.recipients:
        click.echo(f"Requests due a reminder: {run.due}; but there is no active privacy officer or superadmin "
                   "to mail.", err=True)
        raise SystemExit(1)
    if not mail.wait_for_deliveries():
        click.echo("The mail server did not take the reminders in time; see the log.", err=True)
        raise SystemExit(1)
    if run.reminded:
        click.echo(f"Reminded {', '.join(run.recipients)} about {', '.join(run.reminded)}.")
    else:
        click.echo("Nothing to remind about today.")


@privacy_cli.command("export")
@click.argument("kind", type=KINDS)
@click.argument("ref_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--output", "output", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Where to write the ZIP file (a new file, readable by its owner only).")
@click.option("--request", "request_ref", default=None, help="The data-subject request this answers.")
def export(kind: str, ref_id: int, output: Path, request_ref: str | None) -> None:
    """Export the personal data of customer or account REF_ID as a ZIP (JSON, CSV, README, manifest); audited."""
    if output.exists():
        raise click.ClickException(f"{output} exists; choose a new file name")
    try:
        with transaction():
            result = exports.write_export(Actor.system("cli"), kind, ref_id, output, request_ref=request_ref)
    except NoSuchPerson:
        raise click.ClickException(f"there is no {kind} {ref_id}") from None
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    click.echo(json.dumps({"file": str(output), **result}))


@privacy_cli.command("purge-exports")
def purge_exports() -> None:
    """Delete access exports older than the setting privacy_export_keep_hours (run it from cron)."""
    with transaction():
        deleted = exports.purge_expired(Actor.system("cli"))
    click.echo(f"{len(deleted)} export(s) deleted.")
