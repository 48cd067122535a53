"""User administration forms. Choices depend on who is editing (set by the routes)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from app.inputs import Form
from app.users.models import Role


def options(pairs) -> list[SelectChoice]:
    """SelectField choices from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def _optional_int(value):
    if value in (None, "", "None"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1  # not a choice: the SelectField reports it


class _AccountFields(Form):
    display_name = StringField(_l("Name"), validators=[DataRequired(_l("Enter a name.")), Length(max=120)],
                               render_kw={"autocomplete": "off"})
    role = SelectField(_l("Role"), validators=[DataRequired(_l("Choose a role."))])
    institution_id = SelectField(_l("Institution"), coerce=_optional_int, validators=[Optional()],
                                 description=_l("Institution admins and customers belong to one institution."))

    def set_choices(self, roles: list[Role], institutions: list[tuple[int, str]]) -> None:
        self.role.choices = options((r.value, r.label) for r in roles)
        self.institution_id.choices = options([(None, _l("None")), *institutions])


class InviteUserForm(_AccountFields):
    email = StringField(_l("E-mail"), validators=[DataRequired(_l("Enter an e-mail address.")),
                                                  Email(_l("Enter a valid e-mail address.")), Length(max=254)],
                        render_kw={"autocomplete": "off", "inputmode": "email"},
                        description=_l("The invitation goes to this address; its owner chooses the password."))


class EditUserForm(_AccountFields):
    customer = StringField(
        _l("Customer record (customer accounts)"), validators=[Optional(), Length(max=254)],
        render_kw={"autocomplete": "off"},
        description=_l("The number or registered e-mail address of the customer this account belongs to, in the "
                       "same institution. Their consent and their data-subject requests then cover both. Leave empty "
                       "for no link."))
    version = IntegerField(widget=HiddenField.widget, validators=[InputRequired()])


class VersionForm(Form):
    """A button on a record that must not have changed since the page was loaded."""

    version = IntegerField(widget=HiddenField.widget, validators=[InputRequired()])


class ReasonForm(Form):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(_l("Give a reason.")), Length(max=500)],
                           description=_l("A ticket number or a short explanation; it is kept in the audit log."),
                           render_kw={"rows": 3})


class ImpersonateForm(ReasonForm):
    allow_changes = BooleanField(
        _l("Allow changes"),
        description=_l("Without this, the impersonation is read-only: any attempt to change something is refused."))
