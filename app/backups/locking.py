"""One backup operation at a time, across processes and hosts.

On PostgreSQL a session-level advisory lock on the database itself: every host that
can reach the database sees it, and it is released when its connection ends (a killed
process cannot leave it behind). On the embedded SQLite file, an exclusive ``flock`` on a
file beside it (one host by definition).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from app.backups.errors import BackupBusy

# Any 64-bit constant works; distinct from the audit chain's lock key.
BACKUP_LOCK_KEY = 0x5A1B_AC0B_0001


@contextlib.contextmanager
def backup_lock(engine) -> Iterator[None]:
    """Hold the backup lock for the block; raises :class:`BackupBusy` at once when it is taken."""
    if engine.name == "postgresql":
        conn = engine.connect()
        conn.autocommit = True
        locked = False
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_lock(%s)", (BACKUP_LOCK_KEY,))
                locked = cur.fetchone()[0]
            if not locked:
                raise BackupBusy("another backup operation holds the lock")
            yield
        finally:
            # Unlock explicitly: the server ends a closed session a moment later, and the next
            # operation (a restore right after a backup) must not find the lock still held.
            if locked:
                with contextlib.suppress(Exception), conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_unlock(%s)", (BACKUP_LOCK_KEY,))
            conn.close()  # ending the session releases its advisory locks in any case
        return
    path = Path(str(engine.path) + ".backup-lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupBusy("another backup operation holds the lock") from None
        yield
    finally:
        os.close(fd)
