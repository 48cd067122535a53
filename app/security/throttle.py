"""Throttles that count only failures (sign-in), on Flask-Limiter's storage.

Flask-Limiter's decorators count every request; a sign-in throttle must count only
failed attempts and be cleared by a success. These helpers use the same limiter
storage (Redis in production, memory on the embedded default) with a moving
window ("10 failures in the last 15 minutes"), so every worker and host shares the
counts and the time to wait is exact.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.strategies import MovingWindowRateLimiter

from app.extensions import limiter


@dataclass(frozen=True)
class FailureThrottle:
    """At most ``limit`` failures per ``scope`` key; ``purpose`` documents why."""

    name: str
    limit: str
    scope: str
    purpose: str
    item: RateLimitItem = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "item", parse(self.limit))

    def _key(self, value: str) -> str:
        # Keys are hashed so that e-mail addresses never appear in the store.
        return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]

    @staticmethod
    def _window() -> MovingWindowRateLimiter:
        return MovingWindowRateLimiter(limiter.storage)

    def retry_after(self, value: str) -> int | None:
        """Seconds until another attempt is allowed, or None when one is allowed now."""
        key, window = self._key(value), self._window()
        if window.test(self.item, self.name, key):
            return None
        reset_at = window.get_window_stats(self.item, self.name, key).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def record_failure(self, value: str) -> None:
        self._window().hit(self.item, self.name, self._key(value))

    def clear(self, value: str) -> None:
        self._window().clear(self.item, self.name, self._key(value))


# NIST SP 800-63B 5.2.2: at most 100 consecutive failures per account. The short
# window slows guessing; the long one caps it, and a successful sign-in clears both.
SIGN_IN_ACCOUNT_SHORT = FailureThrottle(
    "sign-in-account-short", "10 per 15 minutes", "account",
    "Failed sign-ins for one e-mail address, counted whether or not the account exists.")
SIGN_IN_ACCOUNT_LONG = FailureThrottle(
    "sign-in-account-long", "100 per 30 days", "account",
    "Caps consecutive failed sign-ins per account below NIST's limit of 100.")
SIGN_IN_IP = FailureThrottle(
    "sign-in-ip", "50 per 15 minutes", "IP address",
    "Failed sign-ins from one address, whatever e-mail they try.")

SIGN_IN_ACCOUNT_THROTTLES = (SIGN_IN_ACCOUNT_SHORT, SIGN_IN_ACCOUNT_LONG)

# Every sign-in POST (successful or not) per address: argon2 is deliberately costly,
# so a flood of attempts must not become a denial of service.
SIGN_IN_REQUESTS_PER_IP = "30 per minute"
