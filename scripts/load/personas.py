"""Who the load test simulates, and how many of each: shared by the seed command and the locustfile.

Weights follow real use of the portal: most people are institution admins browsing their own
lists, admins work the approval queue, a few superadmins read and export the audit log, SIEM
collectors pull the audit log through the API, and a steady trickle of people sign in and out.
"""

from __future__ import annotations

# persona: (weight, role of its accounts)
PERSONAS: dict[str, tuple[int, str]] = {
    "superadmin": (10, "superadmin"),
    "approver": (20, "admin"),
    "institution_admin": (40, "institution_admin"),
    "api_client": (15, "superadmin"),
    "sign_in": (15, "admin"),
}

# One password for every load-test account (scratch databases only).
LOAD_PASSWORD = "load test only: porcupine ledger 2026 scratch passphrase"  # noqa: S105


def pool_size(persona: str, users: int) -> int:
    """Accounts of ``persona`` to make for a run of ``users`` simulated people: every simulated
    person gets an account of its own however locust spreads the personas over its workers."""
    del persona  # the same for all: a run may give any one persona up to every user
    return users


def account_index(worker_index: int, workers: int, local_number: int, pool: int) -> int:
    """The account of the ``local_number``-th person of a persona started by worker ``worker_index``:
    workers take turns through the pool, so two workers never pick the same account."""
    return (local_number * max(workers, 1) + worker_index) % pool
