"""What the account page's script posts when a device turns notifications on or off."""

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional

from app.inputs import Form
from app.push.services import MAX_DEVICE_LENGTH, MAX_ENDPOINT_LENGTH


class SubscribeForm(Form):
    endpoint = StringField(validators=[DataRequired(_l("The push service address is missing.")),
                                       Length(max=MAX_ENDPOINT_LENGTH)])
    p256dh = StringField(validators=[DataRequired(_l("The device's public key is missing.")), Length(max=200)])
    auth = StringField(validators=[DataRequired(_l("The device's authentication secret is missing.")),
                                   Length(max=100)])
    device = StringField(validators=[Optional(), Length(max=MAX_DEVICE_LENGTH)])
    locale = StringField(validators=[Optional(), Length(max=8)])


class UnsubscribeForm(Form):
    endpoint = StringField(validators=[DataRequired(_l("The push service address is missing.")),
                                       Length(max=MAX_ENDPOINT_LENGTH)])
