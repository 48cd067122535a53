"""Forms of the API token pages."""

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.api.models import TokenScope
from app.api.tokens import DEFAULT_LIFETIME_DAYS, LIFETIMES_DAYS, MAX_NAME
from app.inputs import Form
from app.users.forms import options


class NewTokenForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the token a name.")), Length(max=MAX_NAME)],
                       description=_l("What uses it, for example \"SIEM export\" or \"approval bot\"."))
    scope = RadioField(_l("Access"), choices=options((s.value, s.label) for s in TokenScope),
                       default=TokenScope.READ.value, validators=[DataRequired()])
    days = SelectField(_l("Expires after"), coerce=int, default=DEFAULT_LIFETIME_DAYS,
                       choices=options((days, _l("%(num)d days", num=days)) for days in LIFETIMES_DAYS))


class RevokeForm(Form):
    """Only the CSRF token: the token to revoke is in the URL."""
