"""Reminders to privacy officers about requests close to (or past) their deadline.

``flask privacy remind`` runs this from cron. A request is reminded about at most once a
day (a calendar day in the portal's time zone, so a daily cron job that starts a few
seconds earlier than yesterday still reminds): the day is claimed on the request with a
conditional UPDATE, so two runs at once never both mail about it. The mail names
requests by reference, kind, law and deadline only, never the subject.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import or_, select, update

from app import mail
from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import utcnow
from app.extensions import db
from app.formatting import when_text
from app.privacy.models import OPEN_STATUSES, EventKind, PrivacyRequest
from app.privacy.services import record_event, reminder_window
from app.security.actor import Actor
from app.security.roles import Role
from app.users.models import User

LinkBuilder = Callable[[int], str | None]


@dataclass
class ReminderRun:
    """What one run did: how many requests were due a reminder, those reminded about, who was mailed."""

    due: int = 0
    reminded: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)


def local_day(moment: datetime) -> date:
    """The calendar day of ``moment`` in the portal's time zone."""
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def recipients() -> list[str]:
    """The addresses of active privacy officers; superadmins when there is none."""
    for role in (Role.PRIVACY_OFFICER, Role.SUPERADMIN):
        found = list(db.session.scalars(select(User.email).where(
            User.role == role.value, User.is_active_account.is_(True)).order_by(User.id)))
        if found:
            return found
    return []


def not_reminded_since(day: date):
    return or_(PrivacyRequest.reminded_on.is_(None), PrivacyRequest.reminded_on < day)


def due_for_reminder(now: datetime) -> list[PrivacyRequest]:
    """Open requests due within the reminder window (or overdue) not reminded about today."""
    return list(db.session.scalars(select(PrivacyRequest).where(
        PrivacyRequest.status.in_(OPEN_STATUSES), PrivacyRequest.due_at < now + reminder_window(),
        not_reminded_since(local_day(now))).order_by(PrivacyRequest.due_at, PrivacyRequest.id)))


def send_reminders(actor: Actor, *, now: datetime | None = None, link_for: LinkBuilder = lambda _id: None
                   ) -> ReminderRun:
    """Mail the privacy officers one list of the requests due soon or overdue, each at most
    once a day (recorded on the request, its timeline and audited PRIVACY_REQUEST_REMIND).
    Nothing is recorded when nobody can be mailed."""
    now = now or utcnow()
    run = ReminderRun()
    candidates = due_for_reminder(now)
    run.due = len(candidates)
    if not candidates:
        return run
    run.recipients = recipients()
    if not run.recipients:
        return run
    today = local_day(now)
    claimed = []
    for req in candidates:
        # A plain UPDATE (not the ORM's): a reminder does not make open forms of the request stale.
        won = db.session.execute(update(PrivacyRequest.__table__).where(
            PrivacyRequest.__table__.c.id == req.id,
            or_(PrivacyRequest.__table__.c.reminded_on.is_(None), PrivacyRequest.__table__.c.reminded_on < today))
            .values(reminded_on=today)).rowcount
        if not won:
            continue  # another run claimed it a moment ago
        claimed.append(req)
        record_event(req, EventKind.REMINDED, actor, ", ".join(run.recipients))
        audit.log(actor, AuditAction.PRIVACY_REQUEST_REMIND, resource=req,
                  description=f"{req.reference}: reminder mailed ({'overdue' if req.due_at < now else 'due soon'})")
    if claimed:
        subject, body = _message(claimed, now, link_for)
        for address in run.recipients:
            mail.send(address, subject, body)
    run.reminded = [req.reference for req in claimed]
    return run


def _message(requests: list[PrivacyRequest], now: datetime, link_for: LinkBuilder) -> tuple[str, str]:
    overdue = sum(1 for req in requests if req.due_at < now)
    subject = ngettext("%(num)d data-subject request needs an answer soon",
                       "%(num)d data-subject requests need an answer soon", len(requests))
    lines = []
    for req in requests:
        when = when_text(req.due_at, "medium")
        state = _("OVERDUE since %(when)s", when=when) if req.due_at < now else _("due %(when)s", when=when)
        line = f"- {req.reference} ({req.kind_enum.label}, {req.status_enum.label}): {state}"
        link = link_for(req.id)
        lines.append(line + (f"\n  {link}" if link else ""))
    intro = ngettext("%(num)d of them is overdue.", "%(num)d of them are overdue.", overdue) if overdue else ""
    body = _("These data-subject requests are due within %(hours)d hours or overdue:\n\n%(lines)s\n\n%(intro)s\n"
             "Open the privacy requests in Saintara Admin to answer them.\n",
             hours=int(reminder_window() / timedelta(hours=1)), lines="\n".join(lines), intro=intro)
    return subject, body
