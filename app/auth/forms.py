"""Sign-in and password forms. Lengths are checked here; the policy in the service."""

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from app.inputs import Form
from app.security.passwords import MAX_LENGTH, MIN_LENGTH


class SignInForm(Form):
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


class SetPasswordForm(Form):
    """A new password, twice (invitations, resets, and changing one's password)."""

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


class ChangePasswordForm(SetPasswordForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Enter your current password.")), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class StepUpForm(Form):
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password.")), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password", "autofocus": True},
    )
    next = HiddenField()


_CODE_FIELD = {"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True,
               "pattern": "[0-9 ]*", "maxlength": 8}


class TotpCodeForm(Form):
    """A six-digit code from the authenticator app."""

    code = StringField(
        _l("Code from your authenticator app"),
        validators=[DataRequired(_l("Enter the six-digit code from your app.")),
                    Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("The code has six digits."))],
        render_kw=_CODE_FIELD,
    )


class BackupCodeForm(Form):
    code = StringField(
        _l("Backup code"),
        validators=[DataRequired(_l("Enter one of your backup codes.")),
                    Length(max=40, message=_l("A backup code has ten letters and digits."))],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"},
    )


class StepUpCodeForm(Form):
    """Step-up for an account with a second factor: an app code or a backup code."""

    code = StringField(
        _l("Code from your authenticator app, or a backup code"),
        validators=[DataRequired(_l("Enter a code.")), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"},
    )
    next = HiddenField()


class RegenerateBackupCodesForm(Form):
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password.")), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        _l("Code from your authenticator app"),
        validators=[Optional(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("The code has six digits."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class PasskeyNameForm(Form):
    name = StringField(
        _l("Name of the passkey"),
        validators=[DataRequired(_l("Give the passkey a name.")), Length(max=100)],
        description=_l("For example the device or security key it lives on."),
        render_kw={"autocomplete": "off", "maxlength": 100},
    )


class ForgotPasswordForm(Form):
    email = StringField(
        _l("E-mail"),
        validators=[DataRequired(_l("Enter your e-mail address.")),
                    Length(max=254, message=_l("An e-mail address has at most 254 characters."))],
        render_kw={"autocomplete": "username", "autofocus": True, "inputmode": "email"},
    )


class ConfirmForm(Form):
    """A button that changes something: the CSRF token is all it carries."""
