"""Backup codes: high-entropy, single-use, stored only as argon2id hashes.

Ten codes at a time; a new set voids the old one. Using one also clears a lock on
authenticator codes (:mod:`app.auth.two_factor`). Services never commit.
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from sqlalchemy import delete, select, update

from app.audit import services as audit
from app.audit.models import AuditAction
from app.auth import two_factor
from app.auth.models import BackupCode
from app.auth.two_factor import CodeRejected
from app.database import utcnow
from app.extensions import db
from app.security.actor import Actor
from app.users.models import User

BACKUP_CODE_COUNT = 10
BACKUP_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud, typed by hand
BACKUP_CODE_LENGTH = 10  # 31^10: about 49 bits each


@functools.cache
def _code_hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1, type=Type.ID)


def code_hasher() -> PasswordHasher:
    """argon2id at OWASP's minimum (19 MiB, 2 passes): enough for ~49-bit random codes,
    and cheap enough to try an account's ten codes in one request."""
    config = current_app.config
    return _code_hasher(min(2, config["ARGON2_TIME_COST"]), min(19 * 1024, config["ARGON2_MEMORY_COST"]))


def normalise_backup_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _new_code() -> str:
    return "".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))


def format_backup_code(code: str) -> str:
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def generate_backup_codes(actor: Actor, user: User) -> list[str]:
    """Void the old set and make ten new codes (audited); the plain codes are returned once."""
    db.session.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
    codes = [_new_code() for _ in range(BACKUP_CODE_COUNT)]
    hasher = code_hasher()
    now = utcnow()
    db.session.add_all(BackupCode(user_id=user.id, code_hash=hasher.hash(code), created_at=now) for code in codes)
    db.session.flush()
    audit.log(actor, AuditAction.BACKUP_CODES_GENERATE, resource=user,
              description=f"Generated {BACKUP_CODE_COUNT} backup codes; earlier codes no longer work")
    return [format_backup_code(code) for code in codes]


def use_backup_code(actor: Actor, user: User, code: str, *, purpose: str) -> int:
    """Accept an unused backup code once (audited BACKUP_CODE_USE); returns how many are left.

    A backup code also clears a lock on authenticator codes. Raises SecondFactorThrottled
    or CodeRejected.
    """
    two_factor.check_throttle(actor, user, purpose)
    wanted = normalise_backup_code(code)
    hasher = code_hasher()
    unused = db.session.scalars(select(BackupCode).where(BackupCode.user_id == user.id,
                                                         BackupCode.used_at.is_(None))).all()
    match = None
    if len(wanted) == BACKUP_CODE_LENGTH:
        for candidate in unused:  # try all: the time taken does not tell which code matched
            try:
                if hasher.verify(candidate.code_hash, wanted) and match is None:
                    match = candidate
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                continue
    if match is None:
        two_factor.record_failure(actor, user, purpose, "backup code", counts_to_lock=False)
        raise CodeRejected("wrong backup code")
    claimed = db.session.execute(update(BackupCode).where(BackupCode.id == match.id, BackupCode.used_at.is_(None))
                                 .values(used_at=utcnow())).rowcount
    if not claimed:  # used by a parallel request a moment ago
        two_factor.record_failure(actor, user, purpose, "backup code (already used)", counts_to_lock=False)
        raise CodeRejected("backup code already used")
    left = len(unused) - 1
    audit.log(actor, AuditAction.BACKUP_CODE_USE, resource=user,
              description=f"Backup code used ({purpose}); {left} left")
    if user.two_factor_locked_at is not None:
        two_factor.unlock_codes(actor, user, "Authenticator codes unlocked by a backup code")
    two_factor.clear_failures(user)
    return left
