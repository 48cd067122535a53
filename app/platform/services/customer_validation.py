"""Validating the lines of a customer file before anything is imported.

Every line is checked in Python (columns, name, e-mail, phone, institution, duplicates
in the file and in the database) and each problem is reported with its line number.
Valid rows come back as plain tuples ready for a bulk insert. The checks are written
for speed (one pass, no per-row queries): see scripts/bench/import.py.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from app.extensions import db
from app.inputs import has_control_characters
from app.platform.models import Customer, Institution
from app.platform.services.customer_file import FileUnreadable

COLUMNS = ("full_name", "email", "phone", "institution_code")
REQUIRED = ("full_name", "email")
ALIASES = {"name": "full_name", "e_mail": "email", "phone_number": "phone", "institution": "institution_code"}
MAX_ROWS = 200_000
MAX_REPORTED_ERRORS = 1000
LOOKUP_CHUNK = 5000
# A conservative subset of valid addresses, checked in one regular expression (about 10x
# faster than email_validator): local part of at most 64 characters, at most 254 in all,
# LDH domain labels without "--", an alphabetic top-level domain that is not reserved.
# Anything it does not accept still goes to email_validator for the verdict.
_SIMPLE_EMAIL = re.compile(
    r"(?=[^@]{1,64}@)(?=.{3,254}\Z)"
    r"[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*"
    r"@(?![^@]*--)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"(?!(?:arpa|invalid|local|localhost|onion|test)\Z)[a-z]{2,63}\Z")
_PHONE = re.compile(r"\+?[0-9][0-9 ()./-]{4,30}")


def normalised_email(raw: str) -> str | None:
    """The lower-cased address when ``raw`` is a valid e-mail address, else None."""
    email = raw.strip()
    if email.isascii():
        email = email.lower()
        if _SIMPLE_EMAIL.match(email):
            return email
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@dataclass(frozen=True)
class LineError:
    line: int
    column: str | None
    message: object
    value: str = ""


@dataclass
class Validation:
    """The outcome of checking a file: valid rows, problems per line, counts."""

    rows: list[tuple[int, str, str, str | None]] = field(default_factory=list)  # institution id, name, e-mail, phone
    lines: list[int] = field(default_factory=list)  # the line of each valid row
    errors: list[LineError] = field(default_factory=list)
    error_count: int = 0
    bad_lines: set[int] = field(default_factory=set)
    row_count: int = 0
    file_error: object = None
    by_institution: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return self.file_error is None and self.error_count == 0 and bool(self.rows)

    def add(self, error: LineError) -> None:
        self.error_count += 1
        self.bad_lines.add(error.line)
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)


@dataclass(frozen=True)
class Institutions:
    """The institutions a file may name, and the importer's scope."""

    by_code: dict[str, tuple[int, bool]]  # code -> (id, is_active)
    scope_id: int | None
    scope_code: str | None

    @classmethod
    def load(cls, scope_id: int | None) -> Institutions:
        rows = db.session.execute(select(Institution.id, Institution.code, Institution.is_active)).all()
        by_code = {row.code: (row.id, row.is_active) for row in rows}
        scope_code = next((row.code for row in rows if row.id == scope_id), None)
        return cls(by_code, scope_id, scope_code)


def _header(cells: list[str], institutions: Institutions, result: Validation) -> dict[str, int] | None:
    # Values typed by the uploader go into LineError.value (escaped when shown), never into
    # the message: translated messages are rendered as markup.
    names = [c.strip().lower().replace(" ", "_").replace("-", "_") for c in cells]
    names = [ALIASES.get(name, name) for name in names]
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        if name not in COLUMNS:
            result.add(LineError(1, None, _l("Unknown column. The columns are: %(columns)s.",
                                             columns=", ".join(COLUMNS)), cells[index][:60]))
        elif name in positions:
            result.add(LineError(1, name, _l("This column appears twice.")))
        else:
            positions[name] = index
    required = REQUIRED if institutions.scope_id is not None else (*REQUIRED, "institution_code")
    for name in required:
        if name not in positions:
            result.add(LineError(1, name, _l("This column is missing.")))
    return None if result.error_count else positions


def validate(lines: Iterable[tuple[int, list[str]]], institutions: Institutions) -> Validation:
    """Check every line; the file's header names the columns (any order, any case)."""
    result = Validation()
    lines = iter(lines)
    try:
        first = next(lines, None)
        if first is None:
            result.file_error = _l("The file is empty.")
            return result
        positions = _header(first[1], institutions, result)
        if positions is None:
            return result
        _check_rows(lines, len(first[1]), positions, institutions, result)
    except FileUnreadable as exc:
        result.file_error = exc.message
        return result
    if result.row_count == 0 and not result.error_count:
        result.file_error = _l("The file has a header but no customers.")
    _check_existing(result)
    result.errors.sort(key=lambda e: e.line)
    return result


def _check_rows(lines, width: int, positions: dict[str, int], institutions: Institutions, result: Validation) -> None:
    """One pass over the data lines; written for speed (see scripts/bench/import.py)."""
    i_name, i_email = positions["full_name"], positions["email"]
    i_phone, i_inst = positions.get("phone"), positions.get("institution_code")
    by_code, scope_id, scope_code = institutions.by_code, institutions.scope_id, institutions.scope_code
    seen: dict[tuple[int, str], int] = {}
    rows, row_lines, add, count = result.rows, result.lines, result.add, 0
    for line, cells in lines:
        if len(cells) != width:
            if not any(cells):
                continue  # blank lines are skipped
            count += 1
            add(LineError(line, None, _l("This line has %(got)s values but the header has %(want)s columns.",
                                         got=len(cells), want=width)))
            continue
        if not any(cells):
            continue
        count += 1
        if count > MAX_ROWS:
            result.file_error = _l("A file may hold at most %(n)s customers. Split it and import the parts.",
                                   n=f"{MAX_ROWS:,}")
            break
        errors_before = result.error_count
        name = " ".join(cells[i_name].split())
        if not name or len(name) > 200:
            add(LineError(line, "full_name", _l("Enter a name of 1 to 200 characters."), name[:60]))
        elif has_control_characters(name):
            add(LineError(line, "full_name", _l("Remove the control characters (such as line breaks or NUL bytes)."),
                          name[:60].encode("unicode_escape").decode()))
        raw_email = cells[i_email]
        email = normalised_email(raw_email)
        if email is None:
            add(LineError(line, "email", _l("This is not a valid e-mail address."), raw_email[:80]))
        phone = None
        if i_phone is not None:
            phone = " ".join(cells[i_phone].split()) or None
            if phone is not None and (len(phone) > 32 or not _PHONE.fullmatch(phone)):
                add(LineError(line, "phone", _l("Enter a phone number of digits, spaces and + ( ) - . only."),
                              phone[:40]))
        institution_id = _institution_of(cells[i_inst].strip().upper() if i_inst is not None else "", line,
                                         by_code, scope_id, scope_code, add)
        if result.error_count != errors_before:
            continue
        key = (institution_id, email)
        first = seen.setdefault(key, line)
        if first != line:
            add(LineError(line, "email", _l("Duplicate: line %(line)s has the same e-mail for this institution.",
                                            line=first), email))
            continue
        rows.append((institution_id, name, email, phone))
        row_lines.append(line)
    result.row_count = count
    result.by_institution.update(row[0] for row in rows)


def _institution_of(code: str, line: int, by_code, scope_id, scope_code, add) -> int | None:
    if not code and scope_id is not None:
        return scope_id
    if not code:
        add(LineError(line, "institution_code", _l("Enter the institution code.")))
    elif scope_id is not None and code != scope_code:
        add(LineError(line, "institution_code",
                      _l("You can import only into your own institution (%(code)s).", code=scope_code), code))
    elif code not in by_code:
        add(LineError(line, "institution_code", _l("Unknown institution code."), code[:40]))
    elif not by_code[code][1]:
        add(LineError(line, "institution_code", _l("This institution is deactivated."), code))
    else:
        return by_code[code][0]
    return None


def _existing(emails: list[str]) -> Iterator[tuple[int, str]]:
    """(institution id, e-mail) of the customers that already use one of ``emails``."""
    if db.session.get_bind().dialect.name == "postgresql":
        # One round trip whatever the size of the file: = ANY(array) uses the e-mail index.
        yield from db.session.execute(select(Customer.institution_id, Customer.email).where(
            Customer.email == any_(bindparam("emails", emails, type_=ARRAY(String)))))
        return
    for start in range(0, len(emails), LOOKUP_CHUNK):
        yield from db.session.execute(select(Customer.institution_id, Customer.email)
                                      .where(Customer.email.in_(emails[start:start + LOOKUP_CHUNK])))


def _check_existing(result: Validation) -> None:
    """Rows whose e-mail already belongs to a customer of the same institution are errors."""
    if not result.rows:
        return
    wanted = {(row[0], row[2]): index for index, row in enumerate(result.rows)}
    clashes = [wanted[key] for key in map(tuple, _existing(list({row[2] for row in result.rows}))) if key in wanted]
    if not clashes:
        return
    clashing = set(clashes)
    for index in sorted(clashing):
        row = result.rows[index]
        result.add(LineError(result.lines[index], "email",
                             _l("A customer with this e-mail already exists in this institution."), row[2]))
        result.by_institution[row[0]] -= 1
    result.rows = [row for index, row in enumerate(result.rows) if index not in clashing]
    result.lines = [line for index, line in enumerate(result.lines) if index not in clashing]
    result.by_institution += Counter()  # drop institutions left with no rows
