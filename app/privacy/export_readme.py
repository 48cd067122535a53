"""README.txt of an access export: what each file holds, in English and in Indonesian."""

from __future__ import annotations

import textwrap

from flask_babel import force_locale
from flask_babel import gettext as _

from app.database import utcnow
from app.privacy.export_people import OTHER_PERSON, Person

WIDTH = 88


def _files(counts: dict, consents: bool) -> list[tuple[str, str]]:
    described = [
        ("customer", _("Your customer record: name, e-mail address, phone number, institution, status.")),
        ("accounts", _("Your portal accounts: address, name, role, status, when you last signed in, and whether an "
                       "authenticator app or passkeys protect them (never the secrets themselves).")),
        ("transactions", _("Every payment of yours: reference, amount in rupiah, description, status, and the "
                           "decision with its reason. Staff members who decided appear by their role.")),
        ("approvals", _("Requests about you or your payments that needed a second person's approval, with their "
                        "details and decision.")),
        ("audit_entries", _("The security log's entries about you, your accounts and the requests about you, and "
                            "those made by your accounts. 'relation' says why an entry is included; 'ip' and "
                            "'user_agent' are given for your own actions only.")),
        ("consents", _("Every consent you gave or withdrew: purpose, the version of the notice, when, how it was "
                       "recorded, and whether it is the one your current choice rests on.")),
    ]
    return [(name, text) for name, text in described if name in counts or (name == "consents" and consents)]


def _section(person: Person, counts: dict, consents: bool) -> str:
    kind = _("customer") if person.kind == "customer" else _("portal account")
    lines = [_("Your personal data held by Saintara Admin"), "",
             _("This archive holds the personal data we hold about %(kind)s #%(id)s, as it was on %(when)s (UTC).",
               kind=kind, id=person.ref_id, when=utcnow().strftime("%Y-%m-%d %H:%M")), "",
             _("Each kind of record is given twice: as JSON (for programs) and as CSV (for spreadsheets)."), ""]
    for name, text in _files(counts, consents):
        lines.append(f"{name}.json, {name}.csv ({counts.get(name, 0)})")
        lines.extend(textwrap.wrap(text, WIDTH, initial_indent="    ", subsequent_indent="    "))
    if not consents:
        lines.extend(textwrap.wrap(_("Consents: this installation keeps no consent records."), WIDTH))
    lines += ["", *textwrap.wrap(_(
        "Other people's data is left out, as the law requires: staff members appear as 'staff member' with their "
        "role, and a name or address of anyone else is shown as '%(other)s'. Values that were erased appear as "
        "'erased subject #' and a number.", other=OTHER_PERSON), WIDTH)]
    lines += ["", *textwrap.wrap(_(
        "manifest.json lists every file with its number of records and its SHA-256 checksum, so you can check "
        "that nothing was changed (for example: sha256sum transactions.csv)."), WIDTH)]
    lines += ["", *textwrap.wrap(_("Times are in UTC (ISO 8601). Amounts are whole rupiah."), WIDTH)]
    return "\n".join(lines)


def readme(person: Person, counts: dict, consents: bool) -> str:
    """The README, in English and then in Indonesian."""
    sections = []
    for locale in ("en", "id"):
        with force_locale(locale):
            sections.append(_section(person, counts, consents))
    return ("\n\n" + "=" * WIDTH + "\n\n").join(sections) + "\n"
