"""Institutions: search, create, edit, deactivate, and their institution admins."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from markupsafe import escape
from sqlalchemy import Select, func, or_, select

from app import events
from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import LIKE_ESCAPE, after_commit, contains_pattern
from app.extensions import db
from app.platform.models import Approval, Customer, DecisionStatus, Institution, Transaction
from app.platform.services import PlatformError, check_version, facets
from app.security.access import institution_scope
from app.security.actor import Actor
from app.security.sessions import end_sessions_for_user
from app.users.models import Role, User
from app.users.services import find_by_email

FIELDS = ("code", "name", "is_active")
CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,19}$")
ADMIN_FIELDS = ("institution_id", "is_active_account")


class InvalidInstitution(PlatformError):
    """A field does not fit; ``field`` names it."""

    def __init__(self, field: str, message):
        super().__init__(message)
        self.field = field


class AdminAssignmentRefused(PlatformError):
    pass


def search(actor: Actor, values: dict) -> Select:
    """Institutions in the actor's scope matching the list filters (q, active)."""
    query = select(Institution)
    scope = institution_scope(actor)
    if scope is not None:
        query = query.where(Institution.id == scope)
    if values.get("q"):
        pattern = contains_pattern(values["q"].lower())
        query = query.where(or_(func.lower(Institution.name).like(pattern, escape=LIKE_ESCAPE),
                                func.lower(Institution.code).like(pattern, escape=LIKE_ESCAPE)))
    if values.get("active"):
        query = query.where(Institution.is_active.is_(values["active"] == "yes"))
    return query


def choices(actor: Actor) -> list[tuple[int, str]]:
    """(id, "CODE · name") of the institutions in the actor's scope, for filter and form selects (cached)."""
    return facets.institution_choices(institution_scope(actor))


def _after_change(institution: Institution) -> None:
    """Once the change commits: clear the facet lists, and announce it to whoever shows institutions."""
    after_commit(facets.clear_facets)
    events.announce(events.institution_changed, institution_id=institution.id)


def _checked(code: str, name: str, *, exclude_id: int | None = None) -> tuple[str, str]:
    code, name = code.strip().upper(), " ".join(name.split())
    if not CODE.match(code):
        raise InvalidInstitution("code", _l("Use 2 to 20 capital letters, digits, '-' or '_', starting with a letter "
                                            "or digit."))
    if not 2 <= len(name) <= 200:
        raise InvalidInstitution("name", _l("Use between 2 and 200 characters."))
    clash = select(Institution.id, Institution.code).where(
        or_(Institution.code == code, func.lower(Institution.name) == name.lower()))
    if exclude_id is not None:
        clash = clash.where(Institution.id != exclude_id)
    other = db.session.execute(clash.limit(1)).first()
    if other is not None:
        if other.code == code:
            raise InvalidInstitution("code", _l("Another institution already uses the code %(code)s.", code=code))
        raise InvalidInstitution("name", _l("Another institution already has this name."))
    return code, name


def create(actor: Actor, *, code: str, name: str) -> Institution:
    """Create an active institution (audited INSTITUTION_CREATE). Raises InvalidInstitution."""
    code, name = _checked(code, name)
    institution = Institution(code=code, name=name, is_active=True)
    db.session.add(institution)
    db.session.flush()
    audit.log(actor, AuditAction.INSTITUTION_CREATE, resource=institution, description=f"Created institution {code}",
              changes=audit.diff({}, audit.snapshot(institution, FIELDS)))
    _after_change(institution)
    return institution


def update(actor: Actor, institution: Institution, *, code: str, name: str, expected_version: int | None) -> bool:
    """Change code and name (audited INSTITUTION_UPDATE); False when nothing changed.

    Raises InvalidInstitution, or StaleEdit when someone changed it since the form was loaded.
    """
    check_version(institution, expected_version, "institution")
    code, name = _checked(code, name, exclude_id=institution.id)
    before = audit.snapshot(institution, FIELDS)
    institution.code, institution.name = code, name
    changes = audit.diff(before, audit.snapshot(institution, FIELDS))
    if not changes:
        return False
    db.session.flush()
    audit.log(actor, AuditAction.INSTITUTION_UPDATE, resource=institution, changes=changes,
              description=f"Edited institution {code}")
    _after_change(institution)
    return True


@dataclass(frozen=True)
class Impact:
    """What deactivating an institution touches, for its confirmation page."""

    active_customers: int
    pending_transactions: int
    pending_approvals: int
    admins: list[User]


def deactivation_impact(institution: Institution) -> Impact:
    pending = DecisionStatus.PENDING.value

    def count(query) -> int:
        return db.session.scalar(query) or 0

    return Impact(
        count(select(func.count()).select_from(Customer)
              .where(Customer.institution_id == institution.id, Customer.is_active.is_(True))),
        count(select(func.count()).select_from(Transaction)
              .where(Transaction.institution_id == institution.id, Transaction.status == pending)),
        count(select(func.count()).select_from(Approval)
              .where(Approval.institution_id == institution.id, Approval.status == pending)),
        admins(institution, active_only=True),
    )


def set_active(actor: Actor, institution: Institution, active: bool, *, expected_version: int | None) -> bool:
    """Deactivate or reactivate (audited INSTITUTION_UPDATE); False when already so.

    A deactivated institution keeps its rows and history; no customers can be imported
    into it. Raises StaleEdit.
    """
    check_version(institution, expected_version, "institution")
    if institution.is_active == active:
        return False
    before = audit.snapshot(institution, FIELDS)
    institution.is_active = active
    db.session.flush()
    audit.log(actor, AuditAction.INSTITUTION_UPDATE, resource=institution,
              changes=audit.diff(before, audit.snapshot(institution, FIELDS)),
              description=f"{'Reactivated' if active else 'Deactivated'} institution {institution.code}")
    _after_change(institution)
    return True


def admins(institution: Institution, *, active_only: bool = False) -> list[User]:
    """The institution admin accounts of this institution, by name."""
    query = select(User).where(User.institution_id == institution.id, User.role == Role.INSTITUTION_ADMIN.value)
    if active_only:
        query = query.where(User.is_active_account.is_(True))
    return list(db.session.scalars(query.order_by(User.display_name, User.id)))


def assign_admin(actor: Actor, institution: Institution, email: str) -> User:
    """Make an existing institution-admin account an admin of this institution (audited
    INSTITUTION_ADMIN_ASSIGN). An admin of another institution moves here and loses access
    there. Raises AdminAssignmentRefused with the reason.
    """

    user = find_by_email(email or "")
    if user is None:
        raise AdminAssignmentRefused(_l("No account uses this e-mail address. Create the account with the "
                                        "institution admin role first, then assign it here."))
    if user.role != Role.INSTITUTION_ADMIN.value:
        raise AdminAssignmentRefused(_l("%(email)s is a %(role)s account; only institution admin accounts can be "
                                        "assigned to an institution.", email=escape(user.email),
                                        role=user.role_enum.label))
    if not user.is_active_account:
        raise AdminAssignmentRefused(_l("%(email)s is deactivated. Reactivate the account first.",
                                        email=escape(user.email)))
    if not institution.is_active:
        raise AdminAssignmentRefused(_l("This institution is deactivated. Reactivate it first."))
    if user.institution_id == institution.id:
        raise AdminAssignmentRefused(_l("%(email)s is already an admin of this institution.",
                                        email=escape(user.email)))
    before = audit.snapshot(user, ADMIN_FIELDS)
    user.institution_id = institution.id
    db.session.flush()
    audit.log(actor, AuditAction.INSTITUTION_ADMIN_ASSIGN, resource=user, institution_id=institution.id,
              changes=audit.diff(before, audit.snapshot(user, ADMIN_FIELDS)),
              description=f"Assigned {user.email} as admin of {institution.code}")
    return user


def remove_admin(actor: Actor, institution: Institution, user: User) -> None:
    """Remove an institution admin (audited INSTITUTION_ADMIN_REMOVE).

    An institution-admin account cannot exist without its institution, so the account is
    deactivated and its sessions end once this commits.
    """
    if user.role != Role.INSTITUTION_ADMIN.value or user.institution_id != institution.id:
        raise AdminAssignmentRefused(_l("This account is not an admin of this institution."))
    if not user.is_active_account:
        raise AdminAssignmentRefused(_l("%(email)s is already removed.", email=escape(user.email)))
    before = audit.snapshot(user, ADMIN_FIELDS)
    user.is_active_account = False
    db.session.flush()
    audit.log(actor, AuditAction.INSTITUTION_ADMIN_REMOVE, resource=user, institution_id=institution.id,
              changes=audit.diff(before, audit.snapshot(user, ADMIN_FIELDS)),
              description=f"Removed {user.email} as admin of {institution.code}; account deactivated")
    user_id = user.id
    after_commit(lambda: end_sessions_for_user(user_id))
