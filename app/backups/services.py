"""The backup service: write backups and check them (verification, restore drill).

One API for the UI, the CLI, background jobs and scripts. These functions never commit;
:mod:`app.backups.procedures` strings them together with the lock and the transaction
boundaries, and is what callers use. The catalogue and retention live in
:mod:`app.backups.catalogue`.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import time
from collections.abc import Callable, Iterator

from flask import current_app

from app import events
from app.audit import services as audit
from app.audit.models import AuditAction, AuditResult
from app.backups import catalogue, crypto

# The dashboard's entry points (defined with the catalogue): the age of the newest verified backup.
from app.backups.catalogue import STALE_AFTER, newest_verified_backup_age, newest_verified_backup_is_stale  # noqa: F401
from app.backups.codec import ArtifactDamaged, ArtifactWriter, decode, file_chunks
from app.backups.engines import EngineError, Snapshot, engine_for_app
from app.backups.errors import BackupFailed, BackupNotFound, VerificationFailed
from app.backups.ids import check_id
from app.backups.models import FAILED, PASSED, Backup
from app.backups.storage import MANIFEST_SUFFIX, STATUS_SUFFIX, StorageError, get_storage
from app.database import utcnow
from app.security.actor import Actor

MANIFEST_FORMAT = 1
KINDS = ("manual", "scheduled", "safety")

Fraction = Callable[[float], None]


def _ignore(_fraction: float) -> None:
    pass


def counting(update: Fraction, total: int) -> Callable[[int], None]:
    """An ``on_bytes`` callback that reports the fraction of ``total`` bytes seen so far."""
    seen = [0]

    def on_bytes(n: int) -> None:
        seen[0] += n
        update(seen[0] / total if total else 0.0)

    return on_bytes


def _encryption_key() -> tuple[str, bytes] | None:
    keys = current_app.config.get("BACKUP_ENCRYPTION_KEYS") or []
    if not keys:
        return None
    try:
        return crypto.parse_key(keys[0])
    except crypto.InvalidBackupKey as exc:
        # Encryption is configured: never fall back to writing plain data.
        raise BackupFailed(f"encryption is configured but cannot be applied: {exc}") from None


def decryption_keys() -> dict[str, bytes]:
    keys = {}
    for value in current_app.config.get("BACKUP_ENCRYPTION_KEYS") or []:
        try:
            kid, raw = crypto.parse_key(value)
        except crypto.InvalidBackupKey:
            continue
        keys[kid] = raw
    return keys


# -- writing ---------------------------------------------------------------------------
def write_backup(backup_id: str, created_by: str, *, kind: str = "manual", compression: str | None = None,
                 progress: Fraction = _ignore, store_progress: Fraction = _ignore) -> dict:
    """Dump the database into a new artifact, store it, then store its manifest; returns the manifest.

    Raises :class:`BackupFailed`; a failed or killed backup leaves no manifest, so it
    never appears as a backup.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown backup kind {kind!r}")
    config = current_app.config
    compression = compression or config["BACKUP_COMPRESSION"]
    key = _encryption_key()
    try:
        engine = engine_for_app()
    except EngineError as exc:
        raise BackupFailed(str(exc)) from None
    storage = get_storage()
    storage.prepare()
    name = f"{backup_id}.{engine.extension}.{'zst' if compression == 'zstd' else 'gz'}" + (".enc" if key else "")
    staged = storage.staging / (name + ".partial")
    started_at, started = utcnow(), time.perf_counter()
    writer = ArtifactWriter(staged, compression=compression, key=key[1] if key else None,
                            level=config["BACKUP_ZSTD_LEVEL"], threads=config["BACKUP_ZSTD_THREADS"])
    try:
        progress(0.0)
        snapshot = engine.dump(writer, counting(lambda f: progress(min(f, 0.99)), max(1, engine.size_estimate())))
        written = writer.close()
        store_progress(0.0)
        storage.put_artifact(staged, name, store_progress)
    except (EngineError, StorageError, OSError) as exc:
        writer.abort()
        raise BackupFailed(str(exc)) from exc
    except BaseException:
        writer.abort()
        raise
    manifest = {
        "format": MANIFEST_FORMAT,
        "id": backup_id,
        "kind": kind,
        "created_at": started_at.isoformat(),
        "duration_seconds": round(time.perf_counter() - started, 3),
        "created_by": created_by,
        "host": socket.gethostname(),
        "engine": engine.name,
        "database": snapshot.database,
        "server_version": snapshot.server_version,
        "dump_tool": snapshot.dump_tool,
        "alembic_revision": snapshot.alembic_revision,
        "artifact": name,
        "size_bytes": written.size_bytes,
        "dump_bytes": written.dump_bytes,
        "sha256": written.sha256,
        "compression": compression,
        "encryption": {"algorithm": crypto.ALGORITHM, "key_id": key[0]} if key else None,
        "tables": snapshot.tables,
        "audit_chain_head": {"id": snapshot.chain_head_id, "hash": snapshot.chain_head_hash},
        "storage": storage.kind,
    }
    try:
        storage.put_json(backup_id + MANIFEST_SUFFIX, manifest)
    except (StorageError, OSError) as exc:
        raise BackupFailed(f"the artifact was stored but its manifest could not be: {exc}") from exc
    return manifest


# -- checking --------------------------------------------------------------------------
def load_manifest(backup_id: str) -> dict:
    """The stored manifest of a backup; raises BackupNotFound."""
    manifest = get_storage().get_json(check_id(backup_id) + MANIFEST_SUFFIX)
    if manifest is None:
        raise BackupNotFound(f"backup {backup_id} does not exist in {get_storage().describe()}")
    return manifest


_MAGIC = {"zstd": b"\x28\xb5\x2f\xfd", "gzip": b"\x1f\x8b"}


def check_file(path, manifest: dict) -> None:
    """Size, SHA-256 and format of an artifact file against its manifest; raises VerificationFailed."""
    size = path.stat().st_size
    if size != manifest["size_bytes"]:
        raise VerificationFailed(f"the artifact has {size} bytes but its manifest says {manifest['size_bytes']}: "
                                 "it is truncated or was replaced")
    digest = hashlib.sha256()
    for _chunk in file_chunks(path, digest):
        pass
    if digest.hexdigest() != manifest["sha256"]:
        raise VerificationFailed("the artifact's SHA-256 does not match its manifest: it was modified or damaged")
    with open(path, "rb") as handle:
        head = handle.read(len(crypto.MAGIC))
    encrypted = manifest.get("encryption") is not None
    if encrypted != head.startswith(crypto.MAGIC):
        raise VerificationFailed("manifest mismatch: the manifest says the artifact is "
                                 f"{'encrypted' if encrypted else 'not encrypted'}, the artifact says otherwise")
    if not encrypted and not head.startswith(_MAGIC.get(manifest.get("compression"), b"?")):
        raise VerificationFailed(f"manifest mismatch: the artifact is not {manifest.get('compression')}-compressed")


@contextlib.contextmanager
def decoded_artifact(manifest: dict, progress: Fraction = _ignore) -> Iterator[Iterator[bytes]]:
    """The raw dump bytes of a stored artifact, once its size and checksum match the manifest."""
    progress(0.0)
    with get_storage().fetch(manifest["artifact"]) as path:
        check_file(path, manifest)
        on_bytes = counting(progress, max(1, manifest["size_bytes"]))

        def chunks():
            for chunk in file_chunks(path):
                on_bytes(len(chunk))
                yield chunk

        yield decode(chunks(), compression=manifest["compression"], keys=decryption_keys(),
                     encrypted=manifest.get("encryption") is not None)


def _engine_for(manifest: dict):
    try:
        engine = engine_for_app()
    except EngineError as exc:
        raise VerificationFailed(str(exc)) from None
    if manifest.get("engine") != engine.name:
        raise VerificationFailed(
            f"the backup was made from {manifest.get('engine')}; this portal runs on {engine.name}")
    return engine


def check_artifact(manifest: dict, progress: Fraction = _ignore) -> None:
    """Verify a backup: size and SHA-256, then decode it whole into the archive listing
    (``pg_restore --list``, or SQLite's integrity check) and compare with the manifest.

    Raises :class:`VerificationFailed` naming the first defect.
    """
    engine = _engine_for(manifest)
    decoded_bytes = [0]

    def measured(chunks):
        for chunk in chunks:
            decoded_bytes[0] += len(chunk)
            yield chunk

    try:
        with decoded_artifact(manifest, progress) as chunks:
            tables = engine.list_tables(measured(chunks))
    except (ArtifactDamaged, EngineError, StorageError) as exc:
        raise VerificationFailed(str(exc)) from None
    if decoded_bytes[0] != manifest["dump_bytes"]:
        raise VerificationFailed(f"manifest mismatch: the dump has {decoded_bytes[0]} bytes, "
                                 f"the manifest says {manifest['dump_bytes']}")
    expected = set(manifest["tables"])
    if tables != expected:
        details = []
        if tables - expected:
            details.append("only in the archive: " + ", ".join(sorted(tables - expected)))
        if expected - tables:
            details.append("only in the manifest: " + ", ".join(sorted(expected - tables)))
        raise VerificationFailed("manifest mismatch: the tables differ (" + "; ".join(details) + ")")


def compare_snapshot(manifest: dict, snapshot: Snapshot) -> list[str]:
    """How a restored database differs from what the manifest recorded (empty when identical)."""
    problems = []
    if snapshot.alembic_revision != manifest["alembic_revision"]:
        problems.append(f"schema revision {snapshot.alembic_revision} instead of {manifest['alembic_revision']}")
    expected = manifest["tables"]
    for table in sorted(set(expected) | set(snapshot.tables)):
        got, want = snapshot.tables.get(table), expected.get(table)
        if got != want:
            problems.append(f"{table}: {got if got is not None else 'missing'} rows instead of "
                            f"{want if want is not None else 'none (not in the backup)'}")
    head = manifest.get("audit_chain_head") or {}
    if (snapshot.chain_head_id, snapshot.chain_head_hash) != (head.get("id"), head.get("hash")):
        problems.append(f"audit chain head {snapshot.chain_head_id} instead of {head.get('id')}")
    return problems


def drill_artifact(manifest: dict, progress: Fraction = _ignore, examine: Callable | None = None) -> list[str]:
    """Restore into a scratch database, compare it with the manifest, let ``examine(url)`` work
    on the scratch database, drop it; returns the differences."""
    engine = _engine_for(manifest)
    progress(0.0)
    try:
        with decoded_artifact(manifest) as chunks:
            snapshot = engine.drill(chunks, counting(progress, max(1, manifest["dump_bytes"])), examine)
    except (ArtifactDamaged, EngineError, StorageError) as exc:
        return [str(exc)]
    return compare_snapshot(manifest, snapshot)


def record_check(actor: Actor, backup_id: str, check: str, passed: bool, detail: str,
                 seconds: float | None = None) -> Backup | None:
    """Store the result of a verification or drill (status file, catalogue row) and audit it."""
    storage = get_storage()
    status = storage.get_json(backup_id + STATUS_SUFFIX) or {}
    status[check] = {"status": PASSED if passed else FAILED, "at": utcnow().isoformat(), "detail": detail,
                     "seconds": round(seconds, 3) if seconds is not None else None}
    row = None
    manifest = storage.get_json(backup_id + MANIFEST_SUFFIX)
    if manifest is not None:
        storage.put_json(backup_id + STATUS_SUFFIX, status)
        row = catalogue.upsert_backup(manifest, status)
    action = AuditAction.BACKUP_VERIFY if check == "verify" else AuditAction.BACKUP_DRILL
    audit.log(actor, action, resource_type="backup", resource_id=backup_id, resource_repr=f"Backup {backup_id}",
              description=f"{check.title()} of backup {backup_id} {'passed' if passed else 'failed'}: {detail}",
              changes={check: {"before": None, "after": status[check]["status"]}, "seconds": seconds},
              result=AuditResult.SUCCESS if passed else AuditResult.FAILURE)
    if not passed:
        events.announce(events.backup_failed, backup_id=backup_id, stage=check)
    return row
