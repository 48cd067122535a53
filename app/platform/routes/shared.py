"""Pieces shared by the platform's pages: messages for refused edits and decisions."""

from __future__ import annotations

from flask import abort
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user

from app.platform.labels import status_label
from app.platform.services import StaleEdit
from app.platform.services.decisions import AlreadyDecided
from app.security.access import ensure_visible


def stale_message(exc: StaleEdit) -> str:
    if exc.last_change is not None:
        return _("%(who)s changed this at %(when)s, after you opened it. Nothing was saved: the form shows the "
                 "current values now; make your change again.",
                 who=exc.last_change.actor_email, when=format_datetime(exc.last_change.at, "medium"))
    return _("Someone changed this after you opened it. Nothing was saved: the form shows the current values now; "
             "make your change again.")


def already_decided_message(exc: AlreadyDecided) -> str:
    return _("%(name)s already decided this (%(status)s) at %(when)s. Your decision was not recorded.",
             name=exc.decided_by_name, status=status_label(exc.status),
             when=format_datetime(exc.decided_at, "medium") if exc.decided_at else "?")


def visible(row):
    """The row when it exists and lies in the viewer's scope; 404 otherwise."""
    if row is None:
        abort(404)
    ensure_visible(current_user, row.id if type(row).__tablename__ == "institutions" else row.institution_id)
    return row

