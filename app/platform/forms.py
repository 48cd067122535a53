"""Forms of the platform pages. Field lengths are checked here, the rules in the services."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, IntegerField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import HiddenInput

from app.inputs import Form


class VersionedForm(Form):
    """Carries the version of the row the form was loaded with (stale edits are refused)."""

    version = IntegerField(widget=HiddenInput(), validators=[Optional()])


class InstitutionForm(VersionedForm):
    code = StringField(
        _l("Code"), validators=[DataRequired(_l("Enter a code.")), Length(max=20)],
        description=_l("Short and unique, for example BANK01. Customer files name institutions by code."))
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter a name.")), Length(max=200)])


class ConfirmForm(VersionedForm):
    """A confirmation page's form: only the CSRF token and the version."""


class AssignAdminForm(Form):
    email = StringField(_l("E-mail of the institution admin account"),
                        validators=[DataRequired(_l("Enter an e-mail address.")), Length(max=254)],
                        render_kw={"inputmode": "email", "autocomplete": "off"})


class CustomerForm(VersionedForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(_l("Enter a name.")), Length(max=200)])
    email = StringField(_l("E-mail"), validators=[DataRequired(_l("Enter an e-mail address.")), Length(max=254)],
                        render_kw={"inputmode": "email"})
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32)])
    is_active = BooleanField(_l("Active"))


class ImportUploadForm(Form):
    file = FileField(_l("Customer file (.csv or .xlsx)"),
                     validators=[FileRequired(_l("Choose a file to upload."))],
                     render_kw={"accept": ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument"
                                          ".spreadsheetml.sheet"})


class ImportConfirmForm(Form):
    sha256 = HiddenField()


class DecisionForm(VersionedForm):
    reason = TextAreaField(_l("Reason"), validators=[Length(max=1000)],
                           description=_l("Required to reject; recorded with the decision."))
    approve = SubmitField(_l("Approve"))
    reject = SubmitField(_l("Reject"))


class BulkApproveForm(Form):
    reason = TextAreaField(_l("Reason (optional)"), validators=[Length(max=1000)])
