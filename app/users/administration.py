"""User administration: who may see and manage which accounts, and the audited edits
(name, role, institution, the customer record a customer account is linked to, deactivation).
Services never commit.

A superadmin manages everyone; an admin manages institution admins and customers; an
institution admin manages the customers of their own institution. Only a superadmin
grants admin or superadmin, and the last active superadmin can be neither demoted nor
deactivated. Every rule is decided on the :class:`Actor`. Edits carry the version the
editor saw (:class:`StaleVersion` when someone changed the account meanwhile).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, false, func, select, update

from app.audit import services as audit
from app.audit.models import AuditAction, AuditLog
from app.database import utcnow
from app.extensions import db
from app.platform.models import Customer, Institution
from app.security.actor import Actor
from app.security.sessions import end_sessions_for_user
from app.users.models import AccountToken, Impersonation, Role, User
from app.users.services import USER_AUDIT_FIELDS, UserError, two_factor_required_for


class UnknownCustomer(UserError):
    """The customer record to link cannot be linked; ``message`` says why (for the form)."""

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


class _Keep:
    """``customer`` not given: keep the account's link while it still fits."""


KEEP = _Keep()
LINK_FIELDS = (*USER_AUDIT_FIELDS, "customer_id")


class NotAllowed(UserError):
    """The actor may not make this change (a role they cannot grant, their own account...)."""


class LastSuperadmin(UserError):
    """The change would leave the portal without an active superadmin."""


class StaleVersion(UserError):
    """The account changed since the form was loaded; ``current`` is the fresh account."""

    def __init__(self, current: User):
        super().__init__("the account was changed by someone else")
        self.current = current


MANAGED_BY: dict[Role, frozenset[Role]] = {
    Role.SUPERADMIN: frozenset(Role),
    Role.ADMIN: frozenset({Role.INSTITUTION_ADMIN, Role.CUSTOMER}),
    Role.INSTITUTION_ADMIN: frozenset({Role.CUSTOMER}),
    Role.CUSTOMER: frozenset(),
    Role.PRIVACY_OFFICER: frozenset(),
}


def _managed_by(actor: Actor) -> frozenset[Role]:
    role = actor.role_enum
    return MANAGED_BY[role] if role is not None else frozenset()


def grantable_roles(actor: Actor) -> list[Role]:
    """The roles ``actor`` may give to an account, most powerful first (least privileged last)."""
    allowed = _managed_by(actor)
    return [role for role in Role if role in allowed]


def visible_users(actor: Actor) -> Select:
    """A SELECT of the accounts ``actor`` may see in user administration."""
    query = select(User)
    if actor.role_enum is Role.INSTITUTION_ADMIN:
        query = query.where(User.role == Role.CUSTOMER.value, User.institution_id == actor.institution_id)
    elif actor.role_enum not in (Role.SUPERADMIN, Role.ADMIN):
        query = query.where(false())
    return query


def can_see(actor: Actor, target: User) -> bool:
    """True when ``actor`` may open ``target`` in user administration."""
    if actor.role_enum is Role.INSTITUTION_ADMIN:
        return target.role_enum is Role.CUSTOMER and target.institution_id == actor.institution_id
    return actor.role_enum in (Role.SUPERADMIN, Role.ADMIN)


def can_manage(actor: Actor, target: User) -> bool:
    """True when ``actor`` may edit, deactivate or invite ``target``."""
    return can_see(actor, target) and target.role_enum in _managed_by(actor)


def assigned_institution(actor: Actor, role: Role, institution_id: int | None) -> int | None:
    """The institution an account of ``role`` given by ``actor`` belongs to: an institution
    admin's own, whatever the form says. Raises NotAllowed for a role the actor may not give."""
    if role not in _managed_by(actor):
        raise NotAllowed(f"you may not give the {role.value} role")
    if actor.role_enum is Role.INSTITUTION_ADMIN:
        return actor.institution_id
    return institution_id


def institution_exists(institution_id: int) -> bool:
    """True when an institution with this id exists."""
    return db.session.get(Institution, institution_id) is not None


def _lock_active_superadmins() -> list[int]:
    """Ids of the active superadmins, locked until the transaction ends (PostgreSQL)."""
    query = select(User.id).where(User.role == Role.SUPERADMIN.value, User.is_active_account.is_(True))
    return list(db.session.scalars(query.with_for_update()))


def _ensure_not_last_superadmin(target: User) -> None:
    if target.role_enum is Role.SUPERADMIN and target.is_active:
        others = [uid for uid in _lock_active_superadmins() if uid != target.id]
        if not others:
            raise LastSuperadmin("the last active superadmin cannot be demoted or deactivated")


def _check_version(target: User, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != target.version:
        raise StaleVersion(target)


def count_active_superadmins() -> int:
    """How many superadmin accounts may sign in."""
    return db.session.scalar(select(func.count()).select_from(User).where(
        User.role == Role.SUPERADMIN.value, User.is_active_account.is_(True)))


def linked_customer(target: User, role: Role, institution_id: int | None, ref: str | None) -> int | None:
    """The customer record a customer account acts for: ``ref`` is its number or registered
    e-mail address, in the account's institution, not linked to another account. None when
    ``ref`` is empty or the account is not a customer's. Raises UnknownCustomer."""
    ref = (ref or "").strip()
    if role is not Role.CUSTOMER or not ref:
        return None
    by_number = ref.isascii() and ref.isdigit() and len(ref) <= 9
    where = Customer.id == int(ref) if by_number else Customer.email == ref.lower()
    customer = db.session.scalars(select(Customer).where(where, Customer.institution_id == institution_id)).first()
    if customer is None:
        raise UnknownCustomer(_l("No customer of this institution has this number or e-mail address."))
    taken = db.session.scalar(select(User.id).where(User.customer_id == customer.id, User.id != target.id))
    if taken is not None:
        raise UnknownCustomer(_l("This customer record is already linked to another account."))
    return customer.id


def update_user(actor: Actor, target: User, *, display_name: str, role: Role, institution_id: int | None,
                expected_version: int | None, keep_session: str | None = None, customer: str | None | _Keep = KEEP
                ) -> dict:
    """Edit name, role, institution and, for a customer account, the customer record it acts
    for (audited USER_UPDATE with before/after); returns the changes.

    ``customer`` is the record's number or e-mail (empty: no link); not given, the link stays
    while the account is still a customer's of the same institution. A role change ends all
    the user's sessions (but ``keep_session``, the editor's own when they edit themselves).
    Raises NotAllowed, LastSuperadmin, StaleVersion, UnknownCustomer or UserError.
    """
    if not can_manage(actor, target):
        raise NotAllowed("you may not change this account")
    _check_version(target, expected_version)
    role = Role(role)
    institution_id = assigned_institution(actor, role, institution_id)
    if role.needs_institution and institution_id is None:
        raise UserError(f"a {role.value} account needs an institution")
    institution_id = institution_id if role.needs_institution else None
    if institution_id is not None and not institution_exists(institution_id):
        raise UserError("the institution does not exist")
    display_name = display_name.strip()
    if not display_name:
        raise UserError("a name is required")
    if role is not target.role_enum:
        _ensure_not_last_superadmin(target)
    if isinstance(customer, _Keep):
        keeps = role is Role.CUSTOMER and institution_id == target.institution_id
        customer_id = target.customer_id if keeps else None
    else:
        customer_id = linked_customer(target, role, institution_id, customer)
    before = audit.snapshot(target, LINK_FIELDS)
    role_changed = role.value != target.role
    target.display_name = display_name
    target.role = role.value
    target.institution_id = institution_id
    target.customer_id = customer_id
    changes = audit.diff(before, audit.snapshot(target, LINK_FIELDS))
    if not changes:
        return {}
    if role_changed and two_factor_required_for(role) and target.two_factor_policy_since is None:
        target.two_factor_policy_since = utcnow()
    db.session.flush()
    ended = end_sessions_for_user(target.id, except_key=keep_session) if role_changed else 0
    description = f"Changed account {target.email}"
    if role_changed:
        description += f"; role change ended {ended} session(s)"
    audit.log(actor, AuditAction.USER_UPDATE, resource=target, description=description, changes=changes)
    return changes


def deactivate_user(actor: Actor, target: User, *, expected_version: int | None) -> int:
    """Deactivate an account, end its sessions and void its open links; returns sessions ended.

    Raises NotAllowed (incl. one's own account), LastSuperadmin or StaleVersion.
    """
    if not can_manage(actor, target):
        raise NotAllowed("you may not change this account")
    if target.id == actor.user_id:
        raise NotAllowed("you cannot deactivate your own account")
    _check_version(target, expected_version)
    if not target.is_active:
        return 0
    _ensure_not_last_superadmin(target)
    target.is_active_account = False
    now = utcnow()
    db.session.execute(update(AccountToken).where(AccountToken.user_id == target.id, AccountToken.used_at.is_(None),
                                                  AccountToken.revoked_at.is_(None)).values(revoked_at=now))
    db.session.flush()
    ended = end_sessions_for_user(target.id)
    # Its sessions just ended, impersonations included: close its open support visits.
    db.session.execute(update(Impersonation).where(
        Impersonation.impersonator_id == target.id, Impersonation.ended_at.is_(None))
        .values(ended_at=now, end_reason="account unavailable"))
    audit.log(actor, AuditAction.USER_DEACTIVATE, resource=target,
              description=f"Deactivated {target.email}; {ended} session(s) ended",
              changes={"is_active_account": {"before": True, "after": False}})
    return ended


def reactivate_user(actor: Actor, target: User, *, expected_version: int | None) -> None:
    """Let a deactivated account sign in again (audited). Raises NotAllowed or StaleVersion."""
    if not can_manage(actor, target):
        raise NotAllowed("you may not change this account")
    _check_version(target, expected_version)
    if target.is_active:
        return
    target.is_active_account = True
    db.session.flush()
    audit.log(actor, AuditAction.USER_REACTIVATE, resource=target, description=f"Reactivated {target.email}",
              changes={"is_active_account": {"before": False, "after": True}})


def recent_audit_entries(user: User, limit: int = 20) -> list[AuditLog]:
    """The newest audit entries about ``user`` or made by them (for the user detail page)."""
    newest = (AuditLog.created_at.desc(), AuditLog.id.desc())  # what the (x, created_at, id) indexes serve
    about = (select(AuditLog.id).where(AuditLog.resource_type == "user", AuditLog.resource_id == str(user.id))
             .order_by(*newest).limit(limit))
    by = select(AuditLog.id).where(AuditLog.actor_id == user.id).order_by(*newest).limit(limit)
    ids = set(db.session.scalars(about)) | set(db.session.scalars(by))
    if not ids:
        return []
    return list(db.session.scalars(select(AuditLog).where(AuditLog.id.in_(ids)).order_by(*newest).limit(limit)))
