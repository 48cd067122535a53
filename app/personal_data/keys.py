"""Subjects' keys, unwrapped once per process.

A subject's key is stored wrapped (Fernet, with ``ENCRYPTION_KEY``) in ``data_subjects``.
Unwrapping costs more than using the key, and a page of the audit log may name hundreds of
people, so a process remembers the key it got for a wrapped key (64 bytes; not the cipher
object, which holds about 4 KB). It is looked up by the
wrapped key *as just read from the database*: keys are still read every time, and a destroyed
key is never read again, so the memo cannot reveal what an erasure took away.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from flask import current_app

MEMO_SIZE = 20_000
_UNWRAPPED: dict[tuple[tuple[str, ...], str], bytes] = {}  # (master keys, wrapped key) -> the key


def master() -> tuple[str, ...]:
    """The master keys configured now (part of the memo's key: another app's keys get nothing)."""
    return tuple(current_app.config["ENCRYPTION_KEYS"])


def unwrapped(wrapped: str, unwrap: Callable[[str], str], master_keys: tuple[str, ...]) -> bytes:
    """The AES-SIV key of ``wrapped`` (just read from the database), unwrapped with ``unwrap``
    the first time this process sees it under ``master_keys``."""
    found = _UNWRAPPED.get((master_keys, wrapped))
    if found is None:
        if len(_UNWRAPPED) >= MEMO_SIZE:
            _UNWRAPPED.clear()
        found = _UNWRAPPED[(master_keys, wrapped)] = base64.b64decode(unwrap(wrapped))
    return found


def forget() -> None:
    """Drop every remembered key (after an erasure in this process)."""
    _UNWRAPPED.clear()
