"""Password hashing (argon2id) and the password policy of NIST SP 800-63B.

Policy: at least 12 characters, up to 256 accepted and none truncated, no composition
rules, and refusal of the 10,000 most common passwords and of the account's own
e-mail name or the service's name. Passwords are NFKC-normalised before hashing, so
the same password typed on different keyboards matches.
"""

from __future__ import annotations

import contextlib
import functools
import unicodedata
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 12
MAX_LENGTH = 256
_COMMON_FILE = Path(__file__).parent / "data" / "common-passwords.txt"
_SERVICE_WORDS = ("saintara",)


class WeakPassword(ValueError):
    """The password breaks the policy; ``reasons`` are user-facing messages."""

    def __init__(self, reasons: list):
        super().__init__("; ".join(str(r) for r in reasons))
        self.reasons = reasons


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of the 10,000 most common passwords, lower-cased."""
    return frozenset(
        line.strip().lower() for line in _COMMON_FILE.read_text(encoding="utf-8").splitlines() if line.strip()
    )


def policy_problems(password: str, *, email: str | None = None) -> list:
    """Reasons why ``password`` is not acceptable (an empty list when it is)."""
    password = normalise(password)
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(_l("Use at least %(n)d characters.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_l("Use at most %(n)d characters.", n=MAX_LENGTH))
    lowered = password.lower()
    if lowered in common_passwords() or lowered.strip() in common_passwords():
        problems.append(_l("This password is among the most commonly used; choose another."))
    context = list(_SERVICE_WORDS)
    if email and "@" in email:
        local = email.split("@", 1)[0].lower()
        if len(local) >= 4:
            context.append(local)
    if any(word in lowered for word in context):
        problems.append(_l("Do not use your e-mail name or the name of this service in your password."))
    return problems


def check_policy(password: str, *, email: str | None = None) -> None:
    """Raise :class:`WeakPassword` when ``password`` breaks the policy."""
    problems = policy_problems(password, email=email)
    if problems:
        raise WeakPassword(problems)


def _hasher() -> PasswordHasher:
    config = current_app.config
    return _cached_hasher(config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_COST"])


@functools.cache
def _cached_hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1, type=Type.ID)


def hash_password(password: str) -> str:
    """An argon2id hash of the normalised password."""
    return _hasher().hash(normalise(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; always spends one hash's time, even with no hash."""
    hasher = _hasher()
    if not password_hash:
        # Equal work for unknown accounts, so timing does not reveal which e-mails exist.
        password_hash = _dummy_hash(hasher)
        with contextlib.suppress(VerificationError):
            hasher.verify(password_hash, normalise(password))
        return False
    try:
        return hasher.verify(password_hash, normalise(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash uses weaker parameters than the current configuration."""
    return _hasher().check_needs_rehash(password_hash)


_dummy_hashes: dict[tuple[int, int], str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    params = (hasher.time_cost, hasher.memory_cost)
    if params not in _dummy_hashes:
        _dummy_hashes[params] = hasher.hash("not a real password, only for timing")
    return _dummy_hashes[params]
