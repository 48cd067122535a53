"""Personal API tokens: create (shown once), list, revoke, and check a bearer token.

Services never commit and write their own audit entries. A token carries its user's
role and institution scope; its own scope (read, or read and write) narrows what it
may do further. Tokens of a deactivated user stop working at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from app.api.models import ApiToken, TokenScope
from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import utcnow
from app.extensions import db
from app.security.access import ROLE_PERMISSIONS, Permission
from app.security.actor import Actor
from app.users.models import Role, User

TOKEN_PREFIX = "sat_"  # noqa: S105 (the visible start of every token, so scanners and log filters find them)
PREFIX_LENGTH = 12
LIFETIMES_DAYS = (7, 30, 90, 365)
DEFAULT_LIFETIME_DAYS = 90
MAX_NAME = 100
# Writing "last used" on every request would cost a write per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(Exception):
    """A refused token operation; ``message`` is safe to show."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class InvalidToken(Exception):
    """The bearer token is unknown, expired or revoked, or its user is inactive; ``reason`` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def may_hold_tokens(user: User) -> bool:
    """Only staff accounts reach the API (customers have nothing to read there)."""
    return user.is_active and Permission.USE_API in ROLE_PERMISSIONS[Role(user.role)]


def create_token(actor: Actor, owner: User, *, name: str, scope: str, days: int) -> tuple[ApiToken, str]:
    """Make a token for ``owner`` (audited API_TOKEN_CREATE); returns it and its only plain copy.

    The actor is the owner, or a superadmin making one for them. Raises TokenError.
    """
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= MAX_NAME:
        raise TokenError(_l("Give the token a name of 1 to %(n)s characters.", n=MAX_NAME))
    if scope not in {s.value for s in TokenScope}:
        raise TokenError(_l("Choose read or read and write."))
    if days not in LIFETIMES_DAYS:
        raise TokenError(_l("Choose one of the offered lifetimes."))
    if actor.user_id != owner.id and not _is_superadmin(actor):
        raise TokenError(_l("Only a superadmin may make a token for someone else."))
    if not may_hold_tokens(owner):
        raise TokenError(_l("Only active staff accounts can use the API."))
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=owner.id, name=name, prefix=plain[:PREFIX_LENGTH], token_hash=hash_token(plain),
                     scope=scope, created_by_id=actor.user_id, expires_at=utcnow() + timedelta(days=days))
    db.session.add(token)
    db.session.flush()
    audit.log(actor, AuditAction.API_TOKEN_CREATE, resource=token,
              description=f"Created API token {token.prefix}… ({name}) for {owner.email}",
              changes={"name": {"before": None, "after": name}, "scope": {"before": None, "after": scope},
                       "expires_at": {"before": None, "after": token.expires_at}})
    return token, plain


def _is_superadmin(actor: Actor) -> bool:
    return actor.role == Role.SUPERADMIN.value and actor.impersonator_id is None


def revoke_token(actor: Actor, token: ApiToken) -> bool:
    """Revoke a token at once (audited API_TOKEN_REVOKE); False when it was already revoked.

    The actor is the owner or a superadmin. Raises TokenError.
    """
    if actor.user_id != token.user_id and not _is_superadmin(actor):
        raise TokenError(_l("Only a superadmin may revoke someone else's token."))
    if token.revoked_at is not None:
        return False
    token.revoked_at, token.revoked_by_id = utcnow(), actor.user_id
    db.session.flush()
    audit.log(actor, AuditAction.API_TOKEN_REVOKE, resource=token,
              description=f"Revoked API token {token.prefix}… ({token.name})",
              changes={"revoked": {"before": False, "after": True}})
    return True


def tokens_of(user: User) -> list[ApiToken]:
    """A user's tokens, newest first (revoked and expired ones included)."""
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.id.desc())))


def token_of(user: User, token_id: int) -> ApiToken | None:
    token = db.session.get(ApiToken, token_id)
    return token if token is not None and token.user_id == user.id else None


def authenticate(plain: str, *, ip: str | None, now: datetime | None = None) -> ApiToken:
    """The live token behind a bearer string, noting when it was last used.

    Raises InvalidToken (reason: unknown, expired, revoked or inactive_user).
    """
    now = now or utcnow()
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain.strip())))
    if token is None:
        raise InvalidToken("unknown")
    if token.revoked_at is not None:
        raise InvalidToken("revoked")
    if token.expires_at <= now:
        raise InvalidToken("expired")
    if not may_hold_tokens(token.user):
        raise InvalidToken("inactive_user")
    # At most one write a minute per token, and never two workers for the same minute.
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.id == token.id,
               or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_RESOLUTION))
        .values(last_used_at=now, last_used_ip=ip)
        .execution_options(synchronize_session=False))
    return token
