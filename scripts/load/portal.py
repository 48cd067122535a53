"""What a simulated person does on the portal's pages: reading forms, signing in with a second
factor. Used by the locustfile; plain functions over a locust client, no locust import here."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import pyotp

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TOTP_STEP = 30


class Unexpected(Exception):
    """The portal answered something a person would not have expected (a failure of the run)."""


def csrf_token(page: str) -> str:
    found = CSRF.search(page)
    if not found:
        raise Unexpected("no CSRF token on the page")
    return found.group(1)


class Authenticator:
    """One person's authenticator app: each code is used once, as the portal demands (a code of a
    step at or before the last accepted one is refused as a replay), so a second sign-in within
    the same 30 seconds waits for the next code as a person would."""

    def __init__(self, secret: str):
        self.totp = pyotp.TOTP(secret)
        self.last_step = 0

    def next_code(self, sleep=time.sleep) -> str:
        while True:
            now = int(time.time() // TOTP_STEP)
            if now > self.last_step:
                self.last_step = now
                return self.totp.generate_otp(now)
            sleep(TOTP_STEP - time.time() % TOTP_STEP + 0.05)


def load_seed(path: str | os.PathLike) -> dict:
    """The seed file written by scripts/load/seed.py."""
    return json.loads(Path(path).read_text())


class DecisionLog:
    """The decisions the portal confirmed to this process's simulated people (one JSON line each),
    checked against the database after the run (scripts/load/check.py)."""

    def __init__(self, directory: str | os.PathLike | None):
        self.path = Path(directory) / f"decisions-{os.getpid()}.jsonl" if directory else None
        self.lock = threading.Lock()

    def record(self, **fields) -> None:
        if self.path is None:
            return
        line = json.dumps(fields) + "\n"
        with self.lock, open(self.path, "a") as handle:
            handle.write(line)
