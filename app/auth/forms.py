"""Sign-in and password forms. Lengths are checked here; the policy in the service."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from app.security.passwords import MAX_LENGTH, MIN_LENGTH


class SignInForm(FlaskForm):
    email = StringField(
        _l("E-mail"),
        validators=[DataRequired(_l("Enter your e-mail address.")),
                    Length(max=254, message=_l("An e-mail address has at most 254 characters."))],
        render_kw={"autocomplete": "username", "autofocus": True, "inputmode": "email"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password.")),
                    Length(max=MAX_LENGTH, message=_l("A password has at most %(max)d characters.", max=MAX_LENGTH))],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Enter your current password.")), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(_l("Enter a new password.")),
            Length(min=MIN_LENGTH, max=MAX_LENGTH,
                   message=_l("Use between %(min)d and %(max)d characters.", min=MIN_LENGTH, max=MAX_LENGTH)),
        ],
        render_kw={"autocomplete": "new-password"},
        description=_l("At least 12 characters. Long passphrases are welcome; common passwords are refused."),
    )
    confirm_password = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(_l("Repeat the new password.")),
                    EqualTo("new_password", message=_l("The two new passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )


class StepUpForm(FlaskForm):
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password.")), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password", "autofocus": True},
    )
    next = HiddenField()
