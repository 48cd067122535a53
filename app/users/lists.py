"""The user list's declaration (filters, order, CSV) and its query: one pattern for the
administration page (app.users.routes) and the JSON API (app.api.reads), so they cannot drift."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_

from app.auth import two_factor
from app.database import LIKE_ESCAPE, contains_pattern
from app.listing import ChoiceFilter, CsvColumn, Filter, ListDefinition, SortOption
from app.security.actor import Actor
from app.users import administration
from app.users.models import Role, User

ROLE_CHOICES = tuple((role.value, role.label) for role in Role)
ACTIVE_CHOICES = (("yes", _l("Active")), ("no", _l("Deactivated")))
TWO_FACTOR_CHOICES = (("on", _l("Set up")), ("off", _l("Not set up")))
# Filters an institution admin does not see: their list holds only their own institution's customers.
INSTITUTION_SCOPED_OUT = ("role", "institution")

USERS = ListDefinition(
    filters=[Filter("q", _l("Search"), placeholder=_l("E-mail or name")),
             ChoiceFilter("role", _l("Role"), ROLE_CHOICES),
             ChoiceFilter("active", _l("Status"), ACTIVE_CHOICES),
             ChoiceFilter("two_factor", _l("Two-factor"), TWO_FACTOR_CHOICES),
             ChoiceFilter("institution", _l("Institution"), integer=True)],
    sorts=[SortOption("email", _l("E-mail"), (User.email, User.id), descending=False),
           SortOption("name", _l("Name"), (User.display_name, User.id), descending=False),
           SortOption("created", _l("Created"), (User.created_at, User.id))],
    default_sort="email",
    csv_columns=[CsvColumn("id", lambda u: u.id), CsvColumn("email", lambda u: u.email),
                 CsvColumn("display_name", lambda u: u.display_name), CsvColumn("role", lambda u: u.role),
                 CsvColumn("institution", lambda u: u.institution.name if u.institution else None),
                 CsvColumn("active", lambda u: u.is_active_account),
                 CsvColumn("invited", lambda u: not u.password_hash),
                 CsvColumn("created_at", lambda u: u.created_at),
                 CsvColumn("last_sign_in_at", lambda u: u.last_sign_in_at)],
)


def search(actor: Actor, values: Mapping[str, object]) -> Select:
    """Accounts ``actor`` may see in user administration, narrowed by the list's filter values
    (q: part of e-mail or name, taken literally; role; active yes/no; two_factor on/off; institution id)."""
    query = administration.visible_users(actor)
    if text := values.get("q"):
        pattern = contains_pattern(str(text).lower())
        query = query.where(or_(func.lower(User.email).like(pattern, escape=LIKE_ESCAPE),
                                func.lower(User.display_name).like(pattern, escape=LIKE_ESCAPE)))
    if role := values.get("role"):
        query = query.where(User.role == role)
    if active := values.get("active"):
        query = query.where(User.is_active_account.is_(active == "yes"))
    if (second_factor := values.get("two_factor")) == "on":
        query = query.where(two_factor.enabled_clause())
    elif second_factor == "off":
        query = query.where(~two_factor.enabled_clause())
    if (institution := values.get("institution")) is not None:
        query = query.where(User.institution_id == institution)
    return query
