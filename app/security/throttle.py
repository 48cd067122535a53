"""Throttles that count only failures (sign-in, codes), on the limiter's storage.

A request limit counts every request; a sign-in throttle must count only failed
attempts and be cleared by a success. These use the same storage as the request
limits (Redis in production, memory on the embedded default) with a moving window
("10 failures in the last 15 minutes"), so every worker and host shares the counts and
the time to wait is exact. While Redis does not answer they count per process
(app.security.counters.CounterStore): slower to trip, never switched off.

The throttles themselves are declared with every other limit in app.security.ratelimits.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.strategies import MovingWindowRateLimiter

from app.security.counters import counters


@dataclass(frozen=True)
class FailureThrottle:
    """At most ``limit`` failures per ``scope`` key; ``purpose`` documents why."""

    name: str
    limit: str
    scope: object
    purpose: object
    item: RateLimitItem = field(init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "item", parse(self.limit))

    def _key(self, value: str) -> str:
        # Keys are hashed so that e-mail addresses never appear in the store.
        return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]

    def _run(self, operation, default=None):
        return counters().call(lambda storage: operation(MovingWindowRateLimiter(storage)),
                               limit=self.name, security=True, let_through=default)

    def retry_after(self, value: str) -> int | None:
        """Seconds until another attempt is allowed, or None when one is allowed now."""
        key = self._key(value)

        def check(window: MovingWindowRateLimiter) -> int | None:
            if window.test(self.item, self.name, key):
                return None
            reset_at = window.get_window_stats(self.item, self.name, key).reset_time
            return max(1, math.ceil(reset_at - time.time()))

        return self._run(check)

    def record_failure(self, value: str) -> None:
        key = self._key(value)
        self._run(lambda window: window.hit(self.item, self.name, key))

    def clear(self, value: str) -> None:
        key = self._key(value)
        self._run(lambda window: window.clear(self.item, self.name, key))
