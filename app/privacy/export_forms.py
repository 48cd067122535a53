"""The form that starts an access export."""

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import Length, Optional

from app.inputs import Form


class ExportForm(Form):
    request_ref = StringField(
        _l("Request reference (optional)"), validators=[Optional(), Length(max=64)],
        description=_l("The data-subject request this export answers, as your records name it. No names here: "
                       "it is kept in the audit log."),
        render_kw={"autocomplete": "off"})
