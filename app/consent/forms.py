"""Forms of the consent pages. Lengths are checked here, the rules in the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from app.consent.models import MAX_EVIDENCE, MAX_NOTICE_TEXT
from app.inputs import Form
from app.personal_data.catalogue import consent_purposes


class OwnConsentForm(Form):
    """The account page's choices: per purpose one box, unticked until the person ticks it,
    and the notice version they read. Unticking and saving withdraws, as ticking gives."""

    back = HiddenField()  # "account": the form was on the account page, so return there

    @staticmethod
    def give_name(purpose: str) -> str:
        return f"give_{purpose}"

    @staticmethod
    def version_name(purpose: str) -> str:
        return f"version_{purpose}"

    def given(self, purpose: str) -> bool:
        return bool(self[self.give_name(purpose)].data)

    def version(self, purpose: str) -> int | None:
        return self[self.version_name(purpose)].data


for _purpose in consent_purposes():
    setattr(OwnConsentForm, OwnConsentForm.give_name(_purpose.key), BooleanField(_purpose.label))
    setattr(OwnConsentForm, OwnConsentForm.version_name(_purpose.key),
            IntegerField(widget=HiddenInput(), validators=[Optional()]))


class NoticeForm(Form):
    text_en = TextAreaField(_l("Notice in English"), validators=[DataRequired(_l("Write the notice text.")),
                                                                 Length(max=MAX_NOTICE_TEXT)],
                            render_kw={"rows": 6})
    text_id = TextAreaField(_l("Notice in Indonesian"), validators=[DataRequired(_l("Write the notice text.")),
                                                                    Length(max=MAX_NOTICE_TEXT)],
                            render_kw={"rows": 6})
    material = BooleanField(
        _l("Material change: people must agree again"),
        description=_l("Tick when the new text changes what people agree to (new data, a new use, a new "
                       "recipient). Consents to earlier versions then stop counting until given again. Leave it "
                       "unticked for a clearer wording of the same thing."))
    confirmed = HiddenField()


class StaffConsentForm(Form):
    """Staff record a choice a customer made outside the portal, with what shows it."""

    notice = SelectField(_l("Purpose and notice version on the form"),
                         validators=[InputRequired(_l("Choose the purpose and notice version."))])
    choice = RadioField(_l("The customer"),
                        choices=[SelectChoice("grant", _l("gave consent")),
                                 SelectChoice("withdraw", _l("withdrew consent"))],
                        validators=[InputRequired(_l("Choose whether the customer gave or withdrew consent."))])
    evidence = StringField(
        _l("Evidence"), validators=[DataRequired(_l("Say what shows the choice.")), Length(max=MAX_EVIDENCE)],
        description=_l("Describe the document, not the person: for example \"paper form signed at the branch, "
                       "filed 2026-03\"."))
