"""Integrity of the audit chain: the fast verification walk, checkpoints, external anchors.

The chain alone shows any change, deletion or insertion *inside* it. Two things it cannot
show by itself are covered here: a rewrite of the whole chain (every hash recomputed
after an edit), which checkpoint entries and external anchors (backup manifests, the
checkpoint lines operators keep off the host) reveal; and the start of a chain whose
oldest entries were purged, which the newest purge checkpoint vouches for.
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import select

from app import events
from app.audit import services as audit
from app.audit.chain import HASHED_FIELDS, ChainBreak, ChainReport, hash_of, walk
from app.audit.models import (
    CHANGES_TEXT_SQL,
    GENESIS_HASH,
    TIMESTAMP_TEXT_SQL,
    AuditAction,
    AuditLog,
    AuditPreviousHash,
    AuditResult,
    AuditVerification,
)
from app.database import utcnow
from app.extensions import db
from app.formatting import count
from app.observability.readings import Reading
from app.security.actor import Actor
from app.settings import services as settings

# The database writes each timestamp exactly as the hash encodes it and hands ``changes`` over
# as its stored (canonical) text: no datetime objects, no JSON decoding in the hot loop.
_RAW_SQL = {"created_at": TIMESTAMP_TEXT_SQL, "changes": CHANGES_TEXT_SQL}
# Integers as text too: then every value the hash encodes is a string or None (the fast path).
for _name in ("actor_id", "impersonator_id", "institution_id"):
    _RAW_SQL[_name] = {"postgresql": f"{_name}::text", "sqlite": f"CAST({_name} AS TEXT)"}


def chain_sql(dialect: str) -> str:
    """The chain in id order, timestamps as hashed and ``changes`` as its stored text."""
    columns = (_RAW_SQL[name][dialect] if name in _RAW_SQL else name for name in HASHED_FIELDS)
    return f"SELECT id, prev_hash, hash, {', '.join(columns)} FROM audit_logs ORDER BY id"  # noqa: S608 (constants)


class AnchorError(ValueError):
    """An external anchor could not be read; the message says which and why."""


@dataclass(frozen=True)
class Anchor:
    """A chain head recorded outside the database: entry id, its hash, and when it was recorded."""

    entry_id: int
    hash: str
    recorded_at: datetime | None = None


def parse_anchor(text: str) -> Anchor:
    """``ID:HASH`` or a JSON object with ``id``, ``hash`` and optionally ``at`` (ISO time)."""
    text = text.strip()
    try:
        if text.startswith("{"):
            data = json.loads(text)
            at = datetime.fromisoformat(data["at"]) if data.get("at") else None
            anchor = Anchor(int(data["id"]), str(data["hash"]), at)
        else:
            entry_id, digest = text.split(":", 1)
            anchor = Anchor(int(entry_id), digest.strip())
    except (ValueError, KeyError, TypeError) as exc:
        raise AnchorError(f"not an anchor (ID:HASH or a JSON line): {text[:80]!r}") from exc
    if len(anchor.hash) != 64 or any(c not in "0123456789abcdef" for c in anchor.hash):
        raise AnchorError(f"not a SHA-256 hash in anchor for entry {anchor.entry_id}")
    return anchor


def read_anchor_file(path: str) -> list[Anchor]:
    """Every anchor in a file written by ``flask audit checkpoint --anchor-file`` (blank lines skipped)."""
    with open(path, encoding="utf-8") as handle:
        return [parse_anchor(line) for line in handle if line.strip()]


def latest_purge() -> tuple[int, str] | None:
    """``(last_id, last_hash)`` of the newest purge checkpoint: where the kept chain starts."""
    changes = db.session.scalar(
        select(AuditLog.changes)
        .where(AuditLog.action == AuditAction.AUDIT_PURGE.value, AuditLog.result == AuditResult.SUCCESS.value)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(1))
    if not isinstance(changes, dict) or not isinstance(changes.get("last_id"), int):
        return None
    return changes["last_id"], str(changes.get("last_hash"))


def chain_rows(batch_size: int = 5000) -> Iterator[tuple]:
    """Every entry as ``(id, prev_hash, hash, *HASHED_FIELDS)`` in id order, in flat memory.

    Read through the DBAPI directly (a server-side cursor on PostgreSQL): this is the
    hot loop of verification. Close the iterator when stopping early (it holds the cursor).
    """
    dialect = db.session.get_bind().dialect.name
    connection = db.session.connection().connection  # the DBAPI connection, inside this transaction
    if dialect == "postgresql":
        with connection.cursor(name=f"audit_chain_{uuid.uuid4().hex[:12]}") as cursor:
            cursor.execute(chain_sql(dialect))
            yield from _prefetched(lambda: cursor.fetchmany(batch_size))
        return
    cursor = connection.cursor()
    try:
        cursor.execute(chain_sql(dialect))
        while rows := cursor.fetchmany(batch_size):
            yield from rows
    finally:
        cursor.close()


def _prefetched(fetch) -> Iterator[tuple]:
    """Rows of ``fetch()`` batches, the next batch fetched in a thread while this one is walked.

    The database produces rows while Python hashes them (psycopg2 releases the GIL while it
    waits); at most two batches wait in memory.
    """
    batches: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce():
        try:
            while not stop.is_set():
                batch = fetch()
                batches.put(batch)
                if not batch:
                    return
        except Exception as exc:  # handed to the consumer, raised there
            batches.put(exc)

    worker = threading.Thread(target=produce, name="audit-chain-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            batch = batches.get()
            if isinstance(batch, Exception):
                raise batch
            if not batch:
                return
            yield from batch
    finally:
        stop.set()
        while worker.is_alive():  # a producer blocked on the full queue needs room to see the stop
            with contextlib.suppress(queue.Empty):
                batches.get_nowait()
            worker.join(0.05)


def previous_hashes(entry_ids: list[int]) -> dict[int, str]:
    """The hashes these entries had before a re-anchoring (app.audit.reanchor), where kept."""
    if not entry_ids:
        return {}
    rows = db.session.execute(select(AuditPreviousHash.entry_id, AuditPreviousHash.hash)
                              .where(AuditPreviousHash.entry_id.in_(entry_ids)))
    return dict(rows.all())


def verify_chain(batch_size: int = 5000, *, anchors: Iterable[Anchor] = (), now: datetime | None = None,
                 retention_days: int | None = None) -> ChainReport:
    """Walk the chain from the newest purge checkpoint (or the start) and check ``anchors``.

    An anchor must still be in the chain with the same hash; one older than the purge
    boundary may have been purged, but only if it is older than the retention period
    (``retention_days``, default the setting): nothing younger may ever be purged.
    """
    anchors = sorted(anchors, key=lambda a: a.entry_id)
    purge = latest_purge()
    rows = chain_rows(batch_size)
    try:
        report = walk(rows, resume=purge, watch={a.entry_id for a in anchors})
    finally:
        rows.close()
    if not report.ok or not anchors:
        return report
    days = retention_days if retention_days is not None else settings.get("audit_retention_days")
    oldest_purgeable = (now or utcnow()) - timedelta(days=days)
    checked = 0
    previous = previous_hashes([a.entry_id for a in anchors])
    for anchor in anchors:
        if anchor.entry_id in report.seen:
            # An anchor taken before the chain was re-anchored names the entry's hash of then.
            if anchor.hash not in (report.seen[anchor.entry_id], previous.get(anchor.entry_id)):
                return replace(report, first_break=ChainBreak(anchor.entry_id, "rewritten", (
                    f"entry {anchor.entry_id} no longer has the hash recorded outside the database: "
                    "the chain was rewritten")), anchors_checked=checked)
            checked += 1
            continue
        purged = purge is not None and anchor.entry_id <= purge[0]
        if purged and (anchor.recorded_at is None or anchor.recorded_at < oldest_purgeable):
            continue  # legitimately removed by retention
        return replace(report, first_break=ChainBreak(anchor.entry_id, "deleted", (
            f"entry {anchor.entry_id}, recorded outside the database, is no longer in the chain: "
            "entries were deleted")), anchors_checked=checked)
    return replace(report, anchors_checked=checked)


def record_verification(report: ChainReport, *, started_at: datetime, finished_at: datetime,
                        source: str) -> AuditVerification:
    """Store the outcome of a verification run (shown on the audit page; the caller commits)."""
    brk = report.first_break
    row = AuditVerification(
        started_at=started_at, finished_at=finished_at, ok=report.ok, checked=report.checked,
        head_id=report.head_id, head_hash=report.head_hash, break_entry_id=brk.entry_id if brk else None,
        break_kind=brk.kind if brk else None, detail=brk.detail if brk else "",
        duration_ms=int((finished_at - started_at).total_seconds() * 1000), source=source[:64])
    db.session.add(row)
    if not report.ok:
        db.session.flush()
        events.announce(events.audit_chain_broken, verification_id=row.id, entry_id=brk.entry_id if brk else None)
    return row


def last_verification() -> AuditVerification | None:
    """The newest verification run, or None if the chain was never verified."""
    return db.session.scalar(select(AuditVerification).order_by(AuditVerification.id.desc()).limit(1))


class CheckpointError(RuntimeError):
    """A checkpoint must be the only entry of its transaction."""


def write_checkpoint(actor: Actor) -> audit.PendingEntry:
    """Queue a checkpoint entry that records the current chain head (written at commit).

    The chain is locked first, so the recorded head is exactly the entry before the
    checkpoint; verification checks that, and external copies of checkpoints reveal
    a rewrite of the whole chain.
    """
    if audit.pending_entries():
        raise CheckpointError("a checkpoint must be the only audit entry of its transaction")
    audit.lock_chain()
    head_id, head_hash = audit.chain_head()
    return audit.log(
        actor, AuditAction.AUDIT_CHECKPOINT, resource_type="audit_log",
        resource_id=head_id, resource_repr=f"chain head #{head_id}" if head_id else "empty chain",
        description=f"Checkpoint of the audit chain at entry {head_id}",
        changes={"head_id": head_id, "head_hash": head_hash})


@dataclass(frozen=True)
class EntryStatus:
    """Where one entry stands in the chain (for its detail page)."""

    hash_ok: bool
    previous_id: int | None
    previous_ok: bool  # its predecessor's hash is the entry's prev_hash (or it starts the chain)
    starts: str | None  # "genesis" or "purge" when the entry is the first one kept
    next_id: int | None
    next_ok: bool
    verification: AuditVerification | None  # the newest verification run
    covered: bool  # that run walked past this entry and found it intact

    @property
    def intact(self) -> bool:
        return self.hash_ok and self.previous_ok and self.next_ok


def entry_status(entry: AuditLog) -> EntryStatus:
    """Check one entry against its own hash and its two neighbours (three indexed look-ups)."""
    previous = db.session.execute(
        select(AuditLog.id, AuditLog.hash).where(AuditLog.id < entry.id).order_by(AuditLog.id.desc()).limit(1)).first()
    following = db.session.execute(
        select(AuditLog.id, AuditLog.prev_hash).where(AuditLog.id > entry.id).order_by(AuditLog.id).limit(1)).first()
    starts = None
    if previous is not None:
        previous_ok = previous.hash == entry.prev_hash
    elif entry.prev_hash == GENESIS_HASH:
        previous_ok, starts = True, "genesis"
    else:
        purge = latest_purge()
        previous_ok = purge is not None and purge[1] == entry.prev_hash
        starts = "purge" if previous_ok else None
    verification = last_verification()
    covered = verification is not None and verification.head_id is not None and verification.head_id >= entry.id
    return EntryStatus(
        hash_ok=hash_of(entry, entry.prev_hash) == entry.hash,
        previous_id=previous.id if previous else None, previous_ok=previous_ok, starts=starts,
        next_id=following.id if following else None,
        next_ok=following is None or following.prev_hash == entry.hash,
        verification=verification, covered=covered)


# A verification older than this no longer vouches for the chain on the dashboard.
VERIFICATION_STALE_AFTER = timedelta(hours=26)


def chain_status_reading():
    """Dashboard card: the result of the last verification (read, never recomputed)."""
    run = last_verification()
    if run is None:
        return Reading("warning", _l("Never verified"), _l("Schedule: flask audit verify"))
    if not run.ok:
        return Reading("danger", _l("Broken"), run.detail, as_of=run.finished_at)
    level = "ok" if utcnow() - run.finished_at <= VERIFICATION_STALE_AFTER else "warning"
    checked = lazy_ngettext("%(n)s entry", "%(n)s entries", run.checked, n=count(run.checked))
    return Reading(level, _l("Verified"), checked, as_of=run.finished_at)


def audit_chain() -> list[GaugeMetricFamily]:
    """Prometheus gauges: the newest verification of the chain (stored, never recomputed)."""
    run = last_verification()
    ok = GaugeMetricFamily(
        "saintara_audit_chain_ok",
        "1 when the newest verification of the audit hash chain passed, 0 when it found a break (NaN: never run).")
    ok.add_metric([], math.nan if run is None else float(run.ok))
    when = GaugeMetricFamily("saintara_audit_chain_verified_timestamp_seconds",
                             "When the audit chain was last verified, in seconds since 1970 (NaN: never).")
    when.add_metric([], math.nan if run is None else run.finished_at.timestamp())
    return [ok, when]
