"""Forms of the privacy pages. Lengths are checked here, the rules in the services."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateTimeLocalField, HiddenField, IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput

from app.inputs import Form
from app.privacy.models import (
    MANUAL_METHODS,
    Channel,
    Jurisdiction,
    Outcome,
    RefusalReason,
    RequestKind,
)
from app.privacy.services import MAX_TEXT

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 1, 1)


def _display_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _options(choices, prompt):
    return [("", prompt), *((value, str(label)) for value, label in choices)]


class VersionedForm(Form):
    """Carries the version of the request the page showed (a changed request is refused)."""

    version = IntegerField(widget=HiddenInput(), validators=[Optional()])


class RegisterForm(Form):
    subject = HiddenField(validators=[DataRequired(_l("Choose the data subject first."))])
    kind = SelectField(_l("What the subject asks for"), validators=[DataRequired(_l("Choose the kind of request."))])
    channel = SelectField(_l("Received by"), validators=[DataRequired(_l("Choose how the request came in."))])
    jurisdiction = SelectField(_l("Handled under"), validators=[DataRequired(_l("Choose the law."))],
                               description=_l("Sets the deadline: one month under the GDPR, 3 × 24 hours for most "
                                              "rights under UU PDP."))
    received_at = DateTimeLocalField(_l("Received at"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                     tz=_display_zone,
                                     validators=[InputRequired(_l("Enter when the request was received."))],
                                     invalid_value_message=_l("Enter a date and time."),
                                     description=_l("The deadline counts from here."))
    details = TextAreaField(_l("What the subject wrote (optional)"), validators=[Length(max=MAX_TEXT)])
    send_link = BooleanField(_l("Mail a confirmation link to the subject's registered address"), default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = _options(RequestKind.choices(), _l("Choose…"))
        self.channel.choices = _options(Channel.choices(), _l("Choose…"))
        self.jurisdiction.choices = _options(Jurisdiction.choices(), _l("Choose…"))

    def validate_received_at(self, field):
        if field.data is not None and not EARLIEST <= field.data.date() < LATEST:
            raise ValidationError(_l("Enter a date and time of the last year."))


class SendLinkForm(VersionedForm):
    """Mail (again) the confirmation link."""


class ManualCheckForm(VersionedForm):
    method = SelectField(_l("How the identity was checked"), validators=[DataRequired(_l("Choose a method."))])
    note = TextAreaField(_l("What was checked"), validators=[Length(max=MAX_TEXT)],
                         description=_l("For example: ID card seen at the counter, number ending 1234. "
                                        "Do not copy the whole document number."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.method.choices = _options([(m.value, m.label) for m in MANUAL_METHODS], _l("Choose…"))


class ExtendForm(VersionedForm):
    reason = TextAreaField(_l("Why more time is needed"), validators=[Length(max=MAX_TEXT)],
                           description=_l("Tell the subject about the extension and this reason before the first "
                                          "deadline."))


class CompleteForm(VersionedForm):
    outcome = SelectField(_l("Outcome"), validators=[DataRequired(_l("Choose the outcome."))])
    note = TextAreaField(_l("What was done"), validators=[Length(max=MAX_TEXT)],
                         description=_l("Recorded in the request's timeline and the audit log."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcome.choices = _options(Outcome.choices(), _l("Choose…"))


class RefuseForm(VersionedForm):
    reason = SelectField(_l("Reason"), validators=[DataRequired(_l("Choose the reason."))])
    note = TextAreaField(_l("Explanation"), validators=[Length(max=MAX_TEXT)],
                         description=_l("What the subject is told, for example which law requires keeping the "
                                        "data. Tell them too that they may complain to the supervisory "
                                        "authority."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reason.choices = _options(RefusalReason.choices(), _l("Choose…"))


class ConfirmLinkForm(Form):
    """The data subject's confirmation: only the CSRF token."""
