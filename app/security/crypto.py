"""Encryption of secrets at rest (TOTP secrets, S3 credentials, ...).

Keys come from ``ENCRYPTION_KEY`` (comma-separated Fernet keys, newest first): the
first key encrypts, every key decrypts, so keys can be rotated without downtime.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in current_app.config["ENCRYPTION_KEYS"]])


def decrypter() -> Callable[[str], str]:
    """:func:`decrypt` with the keys configured now, usable after the app context ends."""
    fernet = _fernet()

    def decrypt_with(token: str) -> str:
        try:
            return fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise SecretUnreadable("stored secret cannot be decrypted with the configured keys") from exc

    return decrypt_with


def encrypt(plaintext: str) -> str:
    """Encrypt and authenticate ``plaintext`` with the newest key."""
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt a value from :func:`encrypt`; raises :class:`SecretUnreadable`."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable("stored secret cannot be decrypted with the configured keys") from exc


class EncryptedText(TypeDecorator):
    """A text column whose values are encrypted at rest with :func:`encrypt`."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)
