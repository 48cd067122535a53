"""The restore confirmation form."""

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired

from app.inputs import Form


class RestoreForm(Form):
    confirmation = StringField(_l("Backup id"), validators=[DataRequired(_l("Type the backup id to confirm."))],
                               render_kw={"autocomplete": "off", "spellcheck": "false"})

    def __init__(self, backup_id: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.backup_id = backup_id

    def validate_confirmation(self, field) -> None:
        from wtforms.validators import ValidationError

        if (field.data or "").strip() != self.backup_id:
            raise ValidationError(_l("This is not the id of the backup. Type it exactly to confirm."))
