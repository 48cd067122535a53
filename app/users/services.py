"""User accounts: creation, lookup, passwords, the two-factor policy of a role, and
bookkeeping columns. Services never commit.

Who may administer which account, and the audited edits, are in app.users.administration.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import utcnow
from app.extensions import db
from app.platform.services.facets import institution_names
from app.security.actor import Actor
from app.security.passwords import check_policy, hash_password, verify_password
from app.security.sessions import end_sessions_for_user
from app.settings.services import get
from app.users.models import Role, User

USER_AUDIT_FIELDS = ("email", "display_name", "role", "institution_id", "is_active_account")


class UserError(Exception):
    """A user operation was refused; the message is safe to show."""


class EmailTaken(UserError):
    """Another account already has this e-mail address."""


class InvalidEmail(UserError):
    """The e-mail address is not a valid address."""


class WrongPassword(UserError):
    """The current password given to change it was wrong."""


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


def ids_with_email(email: str) -> list[int]:
    """Ids of the accounts with this address (at most one), for filters on sealed values."""
    return list(db.session.scalars(select(User.id).where(User.email == normalise_email(email))))


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


def set_password(user: User, new_password: str, *, when: datetime | None = None) -> None:
    """Check the policy and store a new password hash (callers audit and end sessions)."""
    check_policy(new_password, email=user.email)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = when or utcnow()


def institution_choices() -> list[tuple[int, str]]:
    """Every institution as (id, name), by name, for the account forms and filters (cached)."""
    return institution_names()
