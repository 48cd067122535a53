"""Data-subject requests: the list, registering one, and a request's page."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app import inputs
from app.database import utcnow
from app.extensions import db
from app.listing import wants_csv
from app.mail import public_url
from app.privacy import bp, deadlines, subjects, verification
from app.privacy import services as service
from app.privacy.errors import PrivacyError
from app.privacy.forms import ExtendForm, ManualCheckForm, RegisterForm, SendLinkForm
from app.privacy.lists import REQUESTS as LIST
from app.privacy.models import (
    PrivacyRequest,
    SubjectType,
)
from app.security.access import Permission, requires
from app.security.actor import actor_from_request


@bp.get("/requests")
@requires(Permission.MANAGE_PRIVACY)
def requests():
    """Every request, open ones first by deadline; filters by status, kind, law and deadline."""
    state = LIST.state(defaults={"status": "open"})
    query = service.search(state.values)
    if wants_csv():
        return LIST.csv_response(query, state, "privacy-requests")
    page = LIST.page(query, state)
    people = subjects.describe((r.subject_type, r.subject_id) for r in page.items)
    return render_template("privacy/list.html", state=state, page=page, people=people, now=utcnow(),
                           soon=utcnow() + service.reminder_window())


def _subject_search() -> tuple[str, str, list, object]:
    """The subject finder of the new-request page: (type, text, matches, error)."""
    subject_type = request.args.get("type", SubjectType.CUSTOMER.value)
    if subject_type not in {t.value for t in SubjectType}:
        return SubjectType.CUSTOMER.value, "", [], _l("Choose customer or portal user.")
    try:
        text = inputs.text(request.args.get("q"), max_length=254) or ""
    except inputs.InvalidInput as exc:
        return subject_type, "", [], exc.message
    return subject_type, text, subjects.find(subject_type, text) if text else [], None


@bp.get("/requests/new")
@requires(Permission.MANAGE_PRIVACY)
def request_new():
    """Find the data subject, then fill in the request."""
    chosen = subjects.parse_key(request.args.get("subject"))
    subject = subjects.get(*chosen) if chosen else None
    if subject is None:
        subject_type, text, matches, error = _subject_search()
        return render_template("privacy/find_subject.html", subject_type=subject_type, text=text, matches=matches,
                               error=error, searched=bool(text) and error is None), 400 if error else 200
    form = RegisterForm(formdata=None, subject=subject.key, received_at=utcnow())
    return render_template("privacy/new.html", form=form, subject=subject)


@bp.post("/requests/new")
@requires(Permission.MANAGE_PRIVACY)
def request_create():
    form = RegisterForm()
    chosen = subjects.parse_key(form.subject.data)
    subject = subjects.get(*chosen) if chosen else None
    if subject is None:
        flash(_("Choose the data subject first."), "warning")
        return redirect(url_for("privacy.request_new"))
    if form.validate_on_submit():
        actor = actor_from_request()
        try:
            req = service.register_request(
                actor, subject_type=subject.type.value, subject_id=subject.id, kind=form.kind.data,
                channel=form.channel.data, jurisdiction=form.jurisdiction.data, received_at=form.received_at.data,
                details=form.details.data or "")
            if form.send_link.data:
                verification.send_confirmation_link(actor, req, link_for=confirmation_link)
        except PrivacyError as exc:
            show_error(form, exc)
        else:
            flash(_("%(reference)s is registered.", reference=req.reference) + " " + (
                _("A confirmation link was mailed to the subject's registered address.") if form.send_link.data
                else _("Verify the requester's identity before deciding.")), "success")
            return redirect(url_for("privacy.request_detail", request_id=req.id))
    return render_template("privacy/new.html", form=form, subject=subject), 400


def show_error(form, exc: PrivacyError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and exc.field != "subject":
        field.errors = [*field.errors, exc.message]
    else:
        flash(str(exc.message), "danger")


def confirmation_link(token: str) -> str:
    return public_url("privacy.confirm_link", token=token)


def load(request_id: int) -> PrivacyRequest:
    """The request, or 404."""
    req = db.session.get(PrivacyRequest, request_id)
    if req is None:
        abort(404)
    return req


def detail_page(req: PrivacyRequest, status: int = 200, **forms):
    """A request's page with its panels (forms given in ``forms`` keep their errors)."""
    forms.setdefault("send_form", SendLinkForm(formdata=None, version=req.version))
    forms.setdefault("manual_form", ManualCheckForm(formdata=None, version=req.version))
    forms.setdefault("extend_form", ExtendForm(formdata=None, version=req.version))
    now = utcnow()
    may_extend = (req.is_open and deadlines.can_extend(req.jurisdiction) and req.extended_at is None
                  and now <= req.original_due_at)
    return render_template("privacy/detail.html", req=req, subject=subjects.get(req.subject_type, req.subject_id),
                           events=req.events, now=now, soon=now + service.reminder_window(), may_extend=may_extend,
                           link_open=(req.verification_expires_at is not None and req.verification_token_hash
                                      is not None and req.verification_expires_at > now), **forms), status


@bp.get("/requests/<int:request_id>")
@requires(Permission.MANAGE_PRIVACY)
def request_detail(request_id: int):
    return detail_page(load(request_id))
