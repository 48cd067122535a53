"""Domain events: what the services announce, once the commit that made it true is durable.

A service that changes data says so with :func:`announce` instead of importing whoever
reads that data; the readers (the dashboard's cache, the API's cache) subscribe in their
own package's ``init_app``::

    events.announce(events.institution_changed, institution_id=row.id)      # in a service
    events.subscribe(app, events.institution_changed, _forget_institutions)  # in a reader's init_app

An announcement waits for the commit (:func:`app.database.after_commit`): a change that
rolls back announces nothing. Each subscriber runs on its own: one that fails is logged
and the others still run; the commit and the request stand (a stale cache expires by
itself, a broken page would not).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from blinker import Namespace, Signal
from flask import Flask, current_app

from app.database import after_commit

log = logging.getLogger(__name__)
_signals = Namespace()

# Every payload is keyword arguments of plain values (ids, statuses, counts), never rows:
# the session that loaded a row may be gone when the subscribers run.
institution_changed = _signals.signal("institution-changed")  # institution_id
transaction_decided = _signals.signal("transaction-decided")  # transaction_id, institution_id, status, actor_id
approval_decided = _signals.signal("approval-decided")  # approval_id, institution_id, status, actor_id
customers_imported = _signals.signal("customers-imported")  # count, institution_ids, actor_id
demo_data_loaded = _signals.signal("demo-data-loaded")  # institutions, customers, transactions, approvals
person_erased = _signals.signal("person-erased")  # subject_id, kind
invitation_sent = _signals.signal("invitation-sent")  # user_id (the invited account), role, actor_id
invitation_accepted = _signals.signal("invitation-accepted")  # user_id
second_factor_added = _signals.signal("second-factor-added")  # user_id, method ("totp" or "passkey")
backup_restored = _signals.signal("backup-restored")  # backup_id, actor_id
signed_in = _signals.signal("signed-in")  # user_id, method ("password", "totp", "backup_code", "passkey")
consent_changed = _signals.signal("consent-changed")  # subject_kind, subject_id, purpose, granted
backup_failed = _signals.signal("backup-failed")  # backup_id, stage ("backup", "verify" or "drill")
audit_chain_broken = _signals.signal("audit-chain-broken")  # verification_id, entry_id (the first bad entry)


def subscribe(app: Flask, signal: Signal, receiver: Callable[..., object]) -> None:
    """Call ``receiver(app, **payload)`` whenever ``app`` announces ``signal`` (idempotent).

    ``receiver`` must be a module-level function: the connection holds it weakly.
    """
    signal.connect(receiver, sender=app)


def announce(signal: Signal, **payload) -> None:
    """Send ``signal`` with ``payload`` after the current transaction commits (never on rollback)."""
    app = current_app._get_current_object()
    after_commit(lambda: send(app, signal, **payload))


def send(app: Flask, signal: Signal, **payload) -> int:
    """Run every subscriber of ``signal`` for ``app`` now, each on its own; returns how many failed."""
    failed = 0
    for receiver in list(signal.receivers_for(app)):
        try:
            receiver(app, **payload)
        except Exception:  # a subscriber must not undo the commit or break the request
            failed += 1
            log.exception("subscriber %r of event %r failed", receiver, signal.name)
    return failed
