"""Pieces shared by the platform's pages: messages for refused edits and decisions."""

from __future__ import annotations

from flask import abort, flash
from flask_babel import gettext as _

from app.extensions import db
from app.formatting import when_text
from app.platform.forms import DecisionForm
from app.platform.labels import status_label
from app.platform.services import StaleEdit, decisions
from app.platform.services.decisions import AlreadyDecided
from app.security.access import ensure_visible
from app.security.actor import actor_from_request


def stale_message(exc: StaleEdit) -> str:
    if exc.last_change is not None:
        return _("%(who)s changed this at %(when)s, after you opened it. Nothing was saved: the form shows the "
                 "current values now; make your change again.",
                 who=exc.last_change.actor_email, when=when_text(exc.last_change.at, "medium"))
    return _("Someone changed this after you opened it. Nothing was saved: the form shows the current values now; "
             "make your change again.")


def already_decided_message(exc: AlreadyDecided) -> str:
    return _("%(name)s already decided this (%(status)s) at %(when)s. Your decision was not recorded.",
             name=exc.decided_by_name, status=status_label(exc.status),
             when=when_text(exc.decided_at, "medium") if exc.decided_at else "?")


def decide_from_form(row, decide, detail, on_success):
    """Read the decision form of ``row``, call ``decide(approve, reason, expected_version)``,
    and answer: ``detail(row, form, status)`` when refused, ``on_success(decided)`` when done."""
    form = DecisionForm()
    if not form.validate_on_submit() or not (form.approve.data or form.reject.data):
        return detail(row, form, 400)
    try:
        decided = decide(bool(form.approve.data), form.reason.data, form.version.data)
    except decisions.AlreadyDecided as exc:
        flash(already_decided_message(exc), "warning")
        return detail(exc.item, DecisionForm(formdata=None, obj=exc.item), 409)
    except decisions.ChangedMeanwhile as exc:
        flash(exc.message, "warning")
        db.session.refresh(row)
        return detail(row, DecisionForm(formdata=None, obj=row), 409)
    except decisions.DecisionRefused as exc:
        form.reason.errors.append(exc.message)
        return detail(row, form, 400)
    return on_success(decided)


def visible(row):
    """The row when it exists and lies in the viewer's scope; 404 otherwise."""
    if row is None:
        abort(404)
    ensure_visible(actor_from_request(), row.id if type(row).__tablename__ == "institutions" else row.institution_id)
    return row

