"""Consent pages: one's own choices, a customer's consent for staff, and the notices for superadmins."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.consent import bp, notices
from app.consent import services as consent
from app.consent.forms import NoticeForm, OwnConsentForm, StaffConsentForm
from app.consent.lists import HISTORY
from app.consent.models import ConsentSource
from app.extensions import db
from app.personal_data.catalogue import consent_purposes
from app.platform.models import Customer
from app.security.access import Permission, ensure_visible, requires, signed_in
from app.security.actor import actor_from_request
from app.security.stepup import step_up_required

# --- one's own choices -------------------------------------------------------------------------------

def _own_page(form: OwnConsentForm | None = None, status: int = 200):
    subject = consent.subject_of_user(current_user)
    return render_template("consent/account.html", choices=consent.choices(subject),
                           form=form or OwnConsentForm(formdata=None)), status


@bp.get("/account/consent")
@signed_in
def account():
    return _own_page()


@bp.post("/account/consent")
@signed_in
def account_update():
    form = OwnConsentForm()
    if not form.validate_on_submit():
        flash(_("The form could not be read (it may have expired). Make your choices again."), "danger")
        return _own_page(status=400)
    actor, subject = actor_from_request(), consent.subject_of_user(current_user)
    changed = []
    try:
        for choice in consent.choices(subject):
            key = choice.purpose.key
            if choice.notice is None or form.given(key) == choice.granted:
                continue
            if consent.record(actor, subject, key, granted=form.given(key), source=ConsentSource.ACCOUNT,
                              notice_version=form.version(key)):
                changed.append((choice.purpose.label, form.given(key)))
    except consent.ConsentError as exc:  # nothing of this form is kept: the request rolls back
        flash(str(exc.message), "warning")
        return _own_page(status=409 if isinstance(exc, consent.NoticeChanged) else 400)
    for label, given in changed:
        flash(_("You agreed to: %(purpose)s.", purpose=label) if given
              else _("You withdrew your consent to: %(purpose)s.", purpose=label), "success")
    if not changed:
        flash(_("Nothing changed."), "info")
    return redirect(url_for("auth.account" if form.back.data == "account" else "consent.account"))


# --- notices -------------------------------------------------------------------------------------------

def _purpose_or_404(purpose: str):
    try:
        return notices.consent_purpose(purpose)
    except notices.UnknownPurpose:
        abort(404)


@bp.get("/consent/notices")
@requires(Permission.MANAGE_SETTINGS)
def notices_index():
    rows = [(purpose, latest, consent.granted_count(purpose.key) if latest else 0)
            for purpose, latest in notices.purposes_with_notices()]
    return render_template("consent/notices.html", rows=rows)


@bp.get("/consent/notices/<purpose>/<int:version>")
@signed_in
def notice(purpose: str, version: int):
    _purpose_or_404(purpose)
    row = notices.notice(purpose, version)
    if row is None:
        abort(404)
    return render_template("consent/notice.html", purpose=notices.consent_purpose(purpose), notice=row,
                           versions=notices.versions(purpose))


@bp.route("/consent/notices/<purpose>/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_SETTINGS)
@step_up_required
def notice_new(purpose: str):
    found = _purpose_or_404(purpose)
    latest = notices.latest_notice(purpose)
    form = NoticeForm() if request.method == "POST" else NoticeForm(
        formdata=None, text_en=latest.text_en if latest else "", text_id=latest.text_id if latest else "")
    status = 200
    if form.validate_on_submit():
        affected = consent.granted_count(purpose) if latest is not None and form.material.data else 0
        if affected and form.confirmed.data != "yes":
            return render_template("consent/notice_confirm.html", purpose=found, latest=latest, form=form,
                                   affected=affected)
        try:
            published = notices.publish(actor_from_request(), purpose, text_en=form.text_en.data,
                                        text_id=form.text_id.data, material=form.material.data)
        except notices.ConsentError as exc:
            target = getattr(form, exc.field) if exc.field else None
            if target is not None:
                target.errors.append(exc.message)
            else:
                flash(str(exc.message), "warning")
            status = 409 if isinstance(exc, notices.NoticeConflict) else 400
        else:
            flash(_("Version %(version)s of the notice is published.", version=published.version), "success")
            return redirect(url_for("consent.notices_index"))
    elif request.method == "POST":
        status = 400
    return render_template("consent/notice_form.html", purpose=found, latest=latest, form=form), status


# --- a customer's consent, for staff -----------------------------------------------------------------

def _customer_or_404(customer_id: int) -> Customer:
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        abort(404)
    ensure_visible(actor_from_request(), customer.institution_id)
    return customer


def _notice_choices() -> list[SelectChoice]:
    found = []
    for purpose, latest in notices.purposes_with_notices():
        for row in notices.versions(purpose.key) if latest else ():
            label = _("%(purpose)s, version %(version)s", purpose=purpose.label, version=row.version)
            label += (" " + _("(current)")) if row.version == latest.version else ""
            found.append(SelectChoice(f"{purpose.key}:{row.version}", label))
    return found


def _customer_page(customer: Customer, form: StaffConsentForm, status: int = 200):
    state = HISTORY.state()
    subject = consent.Subject("customer", customer.id)
    return HISTORY.respond(consent.events_query(subject, state.value("purpose")), state, "consent/customer.html",
                           f"consent-customer-{customer.id}", customer=customer, form=form,
                           choices=consent.choices(subject),
                           purpose_labels={p.key: p.label for p in consent_purposes()}), status


@bp.get("/customers/<int:customer_id>/consent")
@requires(Permission.MANAGE_CUSTOMERS)
def customer(customer_id: int):
    found = _customer_or_404(customer_id)
    form = StaffConsentForm(formdata=None)
    form.notice.choices = _notice_choices()
    return _customer_page(found, form)


@bp.post("/customers/<int:customer_id>/consent")
@requires(Permission.MANAGE_CUSTOMERS)
def customer_record(customer_id: int):
    found = _customer_or_404(customer_id)
    form = StaffConsentForm()
    form.notice.choices = _notice_choices()
    if not form.validate_on_submit():
        return _customer_page(found, form, 400)
    purpose, _sep, version = form.notice.data.partition(":")
    try:
        row = consent.record(actor_from_request(), consent.Subject("customer", found.id), purpose,
                             granted=form.choice.data == "grant", source=ConsentSource.STAFF,
                             notice_version=int(version), evidence=form.evidence.data)
    except consent.NotVisible:
        abort(404)
    except consent.ConsentError as exc:
        (form.evidence if exc.field == "evidence" else form.notice).errors.append(exc.message)
        return _customer_page(found, form, 409 if isinstance(exc, consent.NoticeChanged) else 400)
    if row is None:
        flash(_("This is already recorded; nothing changed."), "info")
    elif row.granted and not consent.allows(consent.Subject("customer", found.id), purpose):
        flash(_("Recorded. This form shows an earlier version of the notice, which no longer counts: ask the "
                "customer to agree to the current version."), "warning")
    else:
        flash(_("Recorded."), "success")
    return redirect(url_for("consent.customer", customer_id=found.id))
