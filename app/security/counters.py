"""The counters behind every limit: Flask-Limiter's storage, with a per-process stand-in.

When the shared store (Redis) does not answer, :class:`CounterStore` stops asking it for
``RATELIMIT_RETRY_SECONDS``: security limits count in this process meanwhile, the others
let requests through. Request limits (app.security.limiting) and failure throttles
(app.security.throttle) both count here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage
from redis.exceptions import RedisError

from app.observability import metrics

log = logging.getLogger(__name__)
STORAGE_ERRORS = (RedisError, StorageError, OSError)
EXTENSION_KEY = "saintara.counters"
T = TypeVar("T")


class CounterStore:
    """The limiter's storage, with a per-process stand-in while it does not answer."""

    def __init__(self, shared: Storage, retry_seconds: float, local: Storage | None = None):
        self.shared = shared
        # The embedded default already counts in memory: it is its own stand-in.
        self.local = local or (shared if isinstance(shared, MemoryStorage) else MemoryStorage())
        self.retry_seconds = retry_seconds
        self._down_until = 0.0

    @property
    def shared_down(self) -> bool:
        return self.local is not self.shared and time.monotonic() < self._down_until

    def call(self, operation: Callable[[Storage], T], *, limit: str, security: bool, let_through: T) -> T:
        """``operation(storage)`` on the shared store; while it is down, on this process's
        store (security limits) or not at all (the others get ``let_through``)."""
        if self.local is self.shared:
            return operation(self.shared)
        if not self.shared_down:
            try:
                return operation(self.shared)
            except STORAGE_ERRORS:
                self._down_until = time.monotonic() + self.retry_seconds
                log.warning("rate-limit storage unreachable; security limits count per process for %s s",
                            self.retry_seconds, exc_info=True)
        metrics.RATELIMIT_FALLBACKS.labels(limit, "per_process" if security else "let_through").inc()
        return operation(self.local) if security else let_through


def counters() -> CounterStore:
    return current_app.extensions[EXTENSION_KEY]
