"""One-time links that set a password: invitations of new users and password resets.

An admin never chooses someone's password: a new account is created without one and
its owner receives a link (valid for 72 hours) to set it; a forgotten password works
the same way (a link valid for one hour). Only a SHA-256 of each token is stored.
Opening a link changes nothing (mail scanners prefetch links); setting the password
uses it up.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select, update

from app import events, mail
from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import utcnow
from app.extensions import db
from app.security.actor import Actor
from app.security.ratelimits import RESET_MAILS_PER_ADDRESS, SIGN_IN_ACCOUNT_THROTTLES
from app.security.sessions import end_sessions_for_user
from app.users.administration import NotAllowed, assigned_institution, can_manage, institution_exists
from app.users.models import AccountToken, Role, TokenPurpose, User
from app.users.services import UserError, create_user, find_by_email, set_password

LIFETIME = {TokenPurpose.INVITATION: timedelta(hours=72), TokenPurpose.PASSWORD_RESET: timedelta(hours=1)}

LinkBuilder = Callable[[str], str]


class LinkInvalid(UserError):
    """The link is unknown, used, revoked or expired (deliberately not saying which)."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _issue(actor: Actor, user: User, purpose: TokenPurpose) -> str:
    """Void the user's open links of this purpose and make a new one; returns the token."""
    now = utcnow()
    db.session.execute(update(AccountToken).where(
        AccountToken.user_id == user.id, AccountToken.purpose == purpose.value,
        AccountToken.used_at.is_(None), AccountToken.revoked_at.is_(None)).values(revoked_at=now))
    token = secrets.token_urlsafe(32)
    db.session.add(AccountToken(user_id=user.id, purpose=purpose.value, token_hash=_hash(token), created_at=now,
                                expires_at=now + LIFETIME[purpose], created_by_id=actor.user_id))
    db.session.flush()
    return token


def open_token(user: User, purpose: TokenPurpose) -> AccountToken | None:
    """The user's current usable link of this purpose, if any (for the user detail page)."""
    now = utcnow()
    tokens = db.session.scalars(select(AccountToken).where(
        AccountToken.user_id == user.id, AccountToken.purpose == purpose.value,
        AccountToken.used_at.is_(None), AccountToken.revoked_at.is_(None)).order_by(AccountToken.id.desc()))
    return next((t for t in tokens if t.is_open(now)), None)


def _invitation_mail(user: User, inviter: str, link: str) -> None:
    hours = int(LIFETIME[TokenPurpose.INVITATION].total_seconds() // 3600)
    body = _(
        "Hello %(name)s,\n\n%(inviter)s has invited you to Saintara Admin.\n\n"
        "Open this link to choose your password (it works once, for %(hours)d hours):\n%(link)s\n\n"
        "If you did not expect this invitation, ignore this mail.\n",
        name=user.display_name, inviter=inviter, hours=hours, link=link)
    mail.send(user.email, _("Your invitation to Saintara Admin"), body)


def invite_user(actor: Actor, *, email: str, display_name: str, role: Role,
                institution_id: int | None, link_for: LinkBuilder) -> User:
    """Create an account without a password and mail its owner an invitation link.

    Audited USER_CREATE and INVITATION_SEND. Raises NotAllowed for a role the actor may
    not grant, and the errors of ``create_user``.
    """
    role = Role(role)
    institution_id = assigned_institution(actor, role, institution_id)
    if institution_id is not None and role.needs_institution and not institution_exists(institution_id):
        raise UserError("the institution does not exist")
    user = create_user(actor, email=email, display_name=display_name, role=role, institution_id=institution_id)
    token = _issue(actor, user, TokenPurpose.INVITATION)
    _invitation_mail(user, actor.name, link_for(token))
    audit.log(actor, AuditAction.INVITATION_SEND, resource=user, description=f"Invitation sent to {user.email}")
    events.announce(events.invitation_sent, user_id=user.id, role=user.role, actor_id=actor.user_id)
    return user


def resend_invitation(actor: Actor, user: User, *, link_for: LinkBuilder) -> None:
    """Send a new invitation link (the old one stops working). Raises NotAllowed or UserError."""
    if not can_manage(actor, user):
        raise NotAllowed("you may not change this account")
    if user.password_hash is not None:
        raise UserError("this user has already set a password")
    if not user.is_active:
        raise UserError("the account is deactivated")
    token = _issue(actor, user, TokenPurpose.INVITATION)
    _invitation_mail(user, actor.name, link_for(token))
    audit.log(actor, AuditAction.INVITATION_SEND, resource=user, description=f"Invitation sent again to {user.email}")


def revoke_invitation(actor: Actor, user: User) -> bool:
    """Make the user's open invitation link unusable (audited); False when there was none."""
    if not can_manage(actor, user):
        raise NotAllowed("you may not change this account")
    revoked = db.session.execute(update(AccountToken).where(
        AccountToken.user_id == user.id, AccountToken.purpose == TokenPurpose.INVITATION.value,
        AccountToken.used_at.is_(None), AccountToken.revoked_at.is_(None)).values(revoked_at=utcnow())).rowcount
    if revoked:
        audit.log(actor, AuditAction.INVITATION_REVOKE, resource=user,
                  description=f"Invitation of {user.email} revoked")
    return bool(revoked)


def _reset_mail(user: User, link: str) -> None:
    body = _(
        "Hello %(name)s,\n\nSomeone asked to reset the password of your Saintara Admin account.\n\n"
        "Open this link to choose a new password (it works once, for one hour):\n%(link)s\n\n"
        "If it was not you, ignore this mail: your password stays as it is.\n",
        name=user.display_name, link=link)
    mail.send(user.email, _("Reset your Saintara Admin password"), body)


def request_password_reset(actor: Actor, email: str, *, link_for: LinkBuilder) -> bool:
    """Mail a reset link when ``email`` belongs to an active account; True when one was sent.

    The caller shows the same answer either way, and mail leaves in the background, so
    neither the page nor its timing reveals whether the address exists.
    """
    user = find_by_email(email)
    if RESET_MAILS_PER_ADDRESS.retry_after(email):
        return False
    RESET_MAILS_PER_ADDRESS.record_failure(email)
    if user is None or not user.is_active:
        return False
    token = _issue(actor, user, TokenPurpose.PASSWORD_RESET)
    _reset_mail(user, link_for(token))
    audit.log(actor, AuditAction.PASSWORD_RESET_REQUEST, resource=user,
              description=f"Password reset link sent to {user.email}")
    return True


def send_password_reset(actor: Actor, user: User, *, link_for: LinkBuilder) -> None:
    """An administrator sends the user a reset link (they never see or set the password)."""
    if not can_manage(actor, user):
        raise NotAllowed("you may not change this account")
    if not user.is_active:
        raise UserError("the account is deactivated")
    token = _issue(actor, user, TokenPurpose.PASSWORD_RESET)
    _reset_mail(user, link_for(token))
    audit.log(actor, AuditAction.PASSWORD_RESET_REQUEST, resource=user,
              description=f"Password reset link sent to {user.email} by an administrator")


def find_usable(token: str, purpose: TokenPurpose) -> AccountToken:
    """The open link for ``token``; raises LinkInvalid (unknown, used, revoked, expired)."""
    row = db.session.scalar(select(AccountToken).where(AccountToken.token_hash == _hash(token or ""),
                                                       AccountToken.purpose == purpose.value))
    if row is None or not row.is_open(utcnow()) or not row.user.is_active:
        raise LinkInvalid("this link is no longer valid")
    return row


def use_link(actor: Actor, token: str, purpose: TokenPurpose, new_password: str) -> User:
    """Set the password through a link and use the link up; ends every session of the user.

    Audited INVITATION_ACCEPT or PASSWORD_RESET. Raises LinkInvalid or WeakPassword.
    """
    row = find_usable(token, purpose)
    claimed = db.session.execute(update(AccountToken).where(
        AccountToken.id == row.id, AccountToken.used_at.is_(None)).values(used_at=utcnow())).rowcount
    if not claimed:
        raise LinkInvalid("this link is no longer valid")
    user = row.user
    set_password(user, new_password)
    ended = end_sessions_for_user(user.id)
    for throttle in SIGN_IN_ACCOUNT_THROTTLES:
        throttle.clear(user.email)
    if purpose is TokenPurpose.INVITATION:
        audit.log(actor, AuditAction.INVITATION_ACCEPT, resource=user,
                  description=f"{user.email} accepted the invitation and set a password")
        events.announce(events.invitation_accepted, user_id=user.id)
    else:
        audit.log(actor, AuditAction.PASSWORD_RESET, resource=user,
                  description=f"Password reset through an e-mailed link; {ended} session(s) ended",
                  changes={"password": {"before": "set", "after": "changed"}})
    return user
