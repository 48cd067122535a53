"""``flask privacy``: reminders about data-subject requests, for cron.

    0 8 * * * ... flask --app wsgi privacy remind

Exit status 1 when reminders were due but no privacy officer or superadmin could be
mailed, or the mail server did not take the mails in time (the command says which).
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app import mail
from app.database import transaction
from app.privacy import reminders
from app.security.actor import Actor

privacy_cli = AppGroup("privacy", help="Data-subject requests: reminders of deadlines.")


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
