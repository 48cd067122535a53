"""User accounts: creation, lookup, administration and password changes. Services never commit.

Administration rules: a superadmin manages everyone; an admin manages institution
admins and customers; an institution admin manages the customers of their own
institution. Only a superadmin grants admin or superadmin, and the last active
superadmin can be neither demoted nor deactivated. Edits carry the version the
editor saw (:class:`StaleVersion` when someone changed the account meanwhile).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import false, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.audit import services as audit
from app.audit.models import AuditAction, AuditLog
from app.database import utcnow
from app.extensions import db
from app.platform.models import Institution
from app.platform.services.facets import institution_names
from app.security.actor import Actor
from app.security.passwords import check_policy, hash_password, verify_password
from app.security.sessions import end_sessions_for_user
from app.settings.services import get
from app.users.models import AccountToken, Impersonation, Role, User

USER_AUDIT_FIELDS = ("email", "display_name", "role", "institution_id", "is_active_account")


class UserError(Exception):
    """A user operation was refused; the message is safe to show."""

class EmailTaken(UserError):
    pass


class InvalidEmail(UserError):
    pass


class WrongPassword(UserError):
    pass


class NotAllowed(UserError):
    """The actor may not make this change (a role they cannot grant, their own account...)."""

class LastSuperadmin(UserError):
    """The change would leave the portal without an active superadmin."""

class StaleVersion(UserError):
    """The account changed since the form was loaded; ``current`` is the fresh account."""

    def __init__(self, current: User):
        super().__init__("the account was changed by someone else")
        self.current = current


def normalise_email(email: str) -> str:
    """Lower-cased, trimmed address (the whole address: uniqueness ignores case)."""
    return email.strip().lower()


def checked_email(email: str) -> str:
    """A syntactically valid, normalised address; raises :class:`InvalidEmail`."""
    try:
        valid = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    return normalise_email(valid.normalized)


def find_by_email(email: str) -> User | None:
    """The user with this address, whatever its case."""
    return db.session.execute(select(User).where(User.email == normalise_email(email))).scalar_one_or_none()


def create_user(
    actor: Actor,
    *,
    email: str,
    display_name: str,
    role: Role,
    institution_id: int | None = None,
    password: str | None = None,
) -> User:
    """Create an account (audited USER_CREATE). A password, if given, must pass the policy.

    Raises :class:`InvalidEmail`, :class:`EmailTaken`, or ``WeakPassword``.
    """
    email = checked_email(email)
    if find_by_email(email) is not None:
        raise EmailTaken(f"an account with the e-mail {email} already exists")
    if role.needs_institution and institution_id is None:
        raise UserError(f"a {role.value} account needs an institution")
    if not role.needs_institution:
        institution_id = None
    password_hash = None
    if password is not None:
        check_policy(password, email=email)
        password_hash = hash_password(password)
    user = User(
        email=email,
        display_name=display_name.strip() or email,
        role=role.value,
        institution_id=institution_id,
        password_hash=password_hash,
        password_changed_at=utcnow() if password_hash else None,
        is_active_account=True,
        # The two-factor grace period of a new account counts from its creation.
        two_factor_policy_since=utcnow() if two_factor_required_for(role) else None,
    )
    db.session.add(user)
    db.session.flush()
    audit.log(actor, AuditAction.USER_CREATE, resource=user,
              description=f"Created {role.value} account {email}",
              changes=audit.diff({}, audit.snapshot(user, USER_AUDIT_FIELDS)))
    return user


def generate_password() -> str:
    """A random password that passes the policy (for a first superadmin)."""
    return secrets.token_urlsafe(18)


def change_password(actor: Actor, user: User, current_password: str, new_password: str,
                    *, keep_session: str | None = None) -> None:
    """Change the user's own password and end their other sessions (audited).

    Raises :class:`WrongPassword` when ``current_password`` is wrong, ``WeakPassword``
    when the new one breaks the policy.
    """
    if not verify_password(user.password_hash, current_password):
        audit.log(actor, AuditAction.PASSWORD_CHANGE, resource=user, result="failure",
                  description="Password change refused: current password was wrong")
        raise WrongPassword("the current password is not correct")
    set_password(user, new_password)
    ended = end_sessions_for_user(user.id, except_key=keep_session)
    audit.log(actor, AuditAction.PASSWORD_CHANGE, resource=user,
              description=f"Password changed; {ended} other session(s) ended",
              changes={"password": {"before": "set", "after": "changed"}})


def two_factor_required_for(role: Role | str) -> bool:
    """True when the policy setting requires a second factor for ``role``."""

    return Role(role).value in get("two_factor_required_roles")


def update_bookkeeping(user: User, **values) -> None:
    """Write bookkeeping columns (sign-in time, two-factor state) with a plain UPDATE.

    These are not edits of the account: they must not bump its version, or an admin
    editing the user at the same moment would get a false conflict.
    """
    db.session.execute(update(User).where(User.id == user.id).values(updated_at=User.updated_at, **values))
    for name, value in values.items():
        set_committed_value(user, name, value)


# -- administration rules ------------------------------------------------------

MANAGED_BY: dict[Role, frozenset[Role]] = {
    Role.SUPERADMIN: frozenset(Role),
    Role.ADMIN: frozenset({Role.INSTITUTION_ADMIN, Role.CUSTOMER}),
    Role.INSTITUTION_ADMIN: frozenset({Role.CUSTOMER}),
    Role.CUSTOMER: frozenset(),
}


def grantable_roles(actor_user: User) -> list[Role]:
    """The roles ``actor_user`` may give to an account, most powerful first (least privileged last)."""
    allowed = MANAGED_BY[actor_user.role_enum]
    return [role for role in Role if role in allowed]


def visible_users(actor_user: User):
    """A SELECT of the accounts ``actor_user`` may see in user administration."""
    query = select(User)
    if actor_user.role_enum is Role.INSTITUTION_ADMIN:
        query = query.where(User.role == Role.CUSTOMER.value, User.institution_id == actor_user.institution_id)
    elif actor_user.role_enum not in (Role.SUPERADMIN, Role.ADMIN):
        query = query.where(false())
    return query


def can_see(actor_user: User, target: User) -> bool:
    if actor_user.role_enum is Role.INSTITUTION_ADMIN:
        return target.role_enum is Role.CUSTOMER and target.institution_id == actor_user.institution_id
    return actor_user.role_enum in (Role.SUPERADMIN, Role.ADMIN)


def can_manage(actor_user: User, target: User) -> bool:
    """True when ``actor_user`` may edit, deactivate or invite ``target``."""
    return can_see(actor_user, target) and target.role_enum in MANAGED_BY[actor_user.role_enum]


def _check_role_change(actor_user: User, target: User, role: Role, institution_id: int | None) -> int | None:
    if role not in MANAGED_BY[actor_user.role_enum]:
        raise NotAllowed(f"you may not give the {role.value} role")
    if actor_user.role_enum is Role.INSTITUTION_ADMIN:
        institution_id = actor_user.institution_id  # their own institution, whatever the form says
    if role.needs_institution and institution_id is None:
        raise UserError(f"a {role.value} account needs an institution")
    return institution_id if role.needs_institution else None


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


def institution_exists(institution_id: int) -> bool:

    return db.session.get(Institution, institution_id) is not None


def update_user(actor: Actor, actor_user: User, target: User, *, display_name: str, role: Role,
                institution_id: int | None, expected_version: int | None,
                keep_session: str | None = None) -> dict:
    """Edit name, role and institution (audited USER_UPDATE with before/after); returns the changes.

    A role change ends all the user's sessions (but ``keep_session``, the editor's own when
    they edit themselves). Raises NotAllowed, LastSuperadmin, StaleVersion or UserError.
    """
    if not can_manage(actor_user, target):
        raise NotAllowed("you may not change this account")
    _check_version(target, expected_version)
    role = Role(role)
    institution_id = _check_role_change(actor_user, target, role, institution_id)
    if institution_id is not None and not institution_exists(institution_id):
        raise UserError("the institution does not exist")
    display_name = display_name.strip()
    if not display_name:
        raise UserError("a name is required")
    if role is not target.role_enum:
        _ensure_not_last_superadmin(target)
    before = audit.snapshot(target, USER_AUDIT_FIELDS)
    role_changed = role.value != target.role
    target.display_name = display_name
    target.role = role.value
    target.institution_id = institution_id
    changes = audit.diff(before, audit.snapshot(target, USER_AUDIT_FIELDS))
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


def deactivate_user(actor: Actor, actor_user: User, target: User, *, expected_version: int | None) -> int:
    """Deactivate an account, end its sessions and void its open links; returns sessions ended.

    Raises NotAllowed (incl. one's own account), LastSuperadmin or StaleVersion.
    """
    if not can_manage(actor_user, target):
        raise NotAllowed("you may not change this account")
    if target.id == actor_user.id:
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


def reactivate_user(actor: Actor, actor_user: User, target: User, *, expected_version: int | None) -> None:
    """Let a deactivated account sign in again (audited). Raises NotAllowed or StaleVersion."""
    if not can_manage(actor_user, target):
        raise NotAllowed("you may not change this account")
    _check_version(target, expected_version)
    if target.is_active:
        return
    target.is_active_account = True
    db.session.flush()
    audit.log(actor, AuditAction.USER_REACTIVATE, resource=target, description=f"Reactivated {target.email}",
              changes={"is_active_account": {"before": False, "after": True}})


def count_active_superadmins() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(
        User.role == Role.SUPERADMIN.value, User.is_active_account.is_(True)))


def set_password(user: User, new_password: str, *, when: datetime | None = None) -> None:
    """Check the policy and store a new password hash (callers audit and end sessions)."""
    check_policy(new_password, email=user.email)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = when or utcnow()


def recent_audit_entries(user: User, limit: int = 20) -> list:
    """The newest audit entries about ``user`` or made by them (for the user detail page)."""

    newest = (AuditLog.created_at.desc(), AuditLog.id.desc())  # what the (x, created_at, id) indexes serve
    about = (select(AuditLog.id).where(AuditLog.resource_type == "user", AuditLog.resource_id == str(user.id))
             .order_by(*newest).limit(limit))
    by = select(AuditLog.id).where(AuditLog.actor_id == user.id).order_by(*newest).limit(limit)
    ids = set(db.session.scalars(about)) | set(db.session.scalars(by))
    if not ids:
        return []
    return list(db.session.scalars(select(AuditLog).where(AuditLog.id.in_(ids)).order_by(*newest).limit(limit)))


def institution_choices() -> list[tuple[int, str]]:
    """Every institution as (id, name), by name, for the account forms and filters (cached)."""

    return institution_names()
