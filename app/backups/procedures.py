"""Backup operations as the CLI and background jobs run them.

Each takes the backup lock (one operation at a time, across hosts), and writes to the
database in short transactions of its own: an audit entry before the work, the result
and its audit entry after it. Progress goes to ``report(stage, percent)``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app import events
from app.audit import services as audit
from app.audit.models import AuditAction, AuditResult
from app.backups import catalogue, ids, services
from app.backups import erasures as erasure_copy
from app.backups import restore as restoring
from app.backups.engines import EngineError, engine_for_app
from app.backups.errors import (
    BackupFailed,
    DrillFailed,
    RestoreFailed,
    RestoreRefused,
    VerificationFailed,
)
from app.backups.locking import backup_lock
from app.database import transaction, utcnow
from app.extensions import cache, db
from app.personal_data import ledger
from app.security.actor import Actor
from app.settings import services as settings

log = logging.getLogger(__name__)
Report = Callable[[str, float], None]


class Progress:
    """Maps the fraction done of one stage onto a range of the overall percentage."""

    def __init__(self, report: Report | None = None):
        self.report = report or (lambda stage, percent: None)

    def enter(self, stage: str, percent: float) -> None:
        self.report(stage, percent)

    def span(self, stage: str, start: float, end: float) -> services.Fraction:
        """A ``fraction -> None`` callback for one stage (it reports nothing until called)."""

        def update(fraction: float) -> None:
            self.report(stage, start + (end - start) * min(1.0, max(0.0, fraction)))

        return update


def _audit_backup(actor: Actor, action: AuditAction, backup_id: str, description: str, *,
                  failed: bool = False, changes: dict | None = None, announce=None) -> None:
    with transaction():
        audit.log(actor, action, resource_type="backup", resource_id=backup_id, resource_repr=f"Backup {backup_id}",
                  description=description, changes=changes,
                  result=AuditResult.FAILURE if failed else AuditResult.SUCCESS)
        if announce is not None:
            events.announce(announce, backup_id=backup_id, stage="backup")


def _engine():
    try:
        return engine_for_app()
    except EngineError as exc:
        raise BackupFailed(str(exc)) from None


@dataclass
class CreateResult:
    manifest: dict
    verified: bool = False
    drilled: bool | None = None
    deleted: list[str] = field(default_factory=list)

    @property
    def backup_id(self) -> str:
        return self.manifest["id"]


def create_backup(actor: Actor, *, kind: str = "manual", compression: str | None = None,
                  report: Report | None = None, drill: bool | None = None, retention: bool = True) -> CreateResult:
    """Back up the database, verify the new backup, drill it (setting), apply retention.

    Raises BackupBusy, BackupFailed, VerificationFailed or DrillFailed (the backup then
    exists but did not pass; the result is recorded and shown).
    """
    with backup_lock(_engine()):
        drill = settings.get("backup_drill_after_create") if drill is None else drill
        progress = Progress(report)
        result = _create_locked(actor, kind, compression, progress, end=85 if drill else 97)
        if drill:
            _drill_locked(actor, result.manifest, progress.span("drilling", 85, 98))
            result.drilled = True
        if retention:
            progress.enter("cleanup", 98)
            result.deleted = _cleanup_locked(actor)[0]
        return result


def _create_locked(actor: Actor, kind: str, compression: str | None, progress: Progress, *,
                   start: float = 0, end: float = 97) -> CreateResult:
    backup_id = ids.new_backup_id()
    _audit_backup(actor, AuditAction.SYSTEM_BACKUP, backup_id, f"Backup {backup_id} started ({kind})")
    width = end - start
    try:
        manifest = services.write_backup(
            backup_id, actor.email, kind=kind, compression=compression,
            progress=progress.span("dumping", start, start + width * 0.75),
            store_progress=progress.span("storing", start + width * 0.75, start + width * 0.8))
    except BackupFailed as exc:
        _audit_backup(actor, AuditAction.SYSTEM_BACKUP, backup_id, f"Backup {backup_id} failed: {exc}", failed=True,
                      announce=events.backup_failed)
        raise
    with transaction():
        catalogue.upsert_backup(manifest)
        audit.log(actor, AuditAction.SYSTEM_BACKUP, resource_type="backup", resource_id=backup_id,
                  resource_repr=f"Backup {backup_id}", description=f"Backup {backup_id} created ({kind})",
                  changes={key: manifest[key] for key in ("size_bytes", "sha256", "compression", "duration_seconds",
                                                          "alembic_revision", "storage")})
    erasure_copy.save_copy()  # the storage always knows every erasure up to its newest backup
    result = CreateResult(manifest)
    _verify_locked(actor, manifest, progress.span("verifying", start + width * 0.8, end))
    result.verified = True
    return result


def verify_backup(actor: Actor, backup_id: str, report: Report | None = None) -> dict:
    """Check a backup's checksum and archive listing against its manifest; raises VerificationFailed."""
    with backup_lock(_engine()):
        manifest = services.load_manifest(backup_id)
        _verify_locked(actor, manifest, Progress(report).span("verifying", 0, 100))
        return manifest


def _verify_locked(actor: Actor, manifest: dict, progress: services.Fraction) -> None:
    started = time.perf_counter()
    try:
        services.check_artifact(manifest, progress)
    except VerificationFailed as exc:
        exc.backup_id = manifest["id"]
        with transaction():
            services.record_check(actor, manifest["id"], "verify", False, str(exc), time.perf_counter() - started)
        raise
    with transaction():
        services.record_check(actor, manifest["id"], "verify", True,
                              "size, SHA-256 and archive listing match the manifest", time.perf_counter() - started)


def drill_backup(actor: Actor, backup_id: str, report: Report | None = None) -> dict:
    """Verify, restore into a scratch database, compare with the manifest, drop it; raises DrillFailed."""
    with backup_lock(_engine()):
        manifest = services.load_manifest(backup_id)
        progress = Progress(report)
        try:
            _verify_locked(actor, manifest, progress.span("verifying", 0, 30))
        except VerificationFailed as exc:
            with transaction():
                services.record_check(actor, backup_id, "drill", False, f"verification failed: {exc}")
            raise
        _drill_locked(actor, manifest, progress.span("drilling", 30, 100))
        return manifest


def _drill_locked(actor: Actor, manifest: dict, progress: services.Fraction) -> None:
    """The drill restores into a scratch database, compares it with the manifest, and re-applies
    the erasure ledger there as a restore would (app.backups.erasures.check_in_scratch)."""
    started = time.perf_counter()
    records = erasure_copy.to_reapply()
    checks: list[erasure_copy.DrillCheck] = []
    problems = services.drill_artifact(manifest, progress,
                                       lambda url: checks.append(erasure_copy.check_in_scratch(url, records)))
    problems += [problem for check in checks for problem in check.problems]
    seconds = time.perf_counter() - started
    if problems:
        detail = "; ".join(problems)
    else:
        detail = (f"restored into a scratch database in {seconds:.1f} s: {len(manifest['tables'])} tables, "
                  "row counts, schema revision and audit chain head match the manifest"
                  + "".join(f"; {check.summary()}" for check in checks))
    with transaction():
        services.record_check(actor, manifest["id"], "drill", not problems, detail, seconds)
    if problems:
        failure = DrillFailed(detail)
        failure.backup_id = manifest["id"]
        raise failure


def cleanup(actor: Actor, *, dry_run: bool = False) -> tuple[list[str], list[str]]:
    """Apply retention (setting-driven) and remove leftovers of killed backups; returns (deleted, leftovers)."""
    with backup_lock(_engine()):
        return _cleanup_locked(actor, dry_run=dry_run)


def _cleanup_locked(actor: Actor, *, dry_run: bool = False) -> tuple[list[str], list[str]]:
    days, keep = settings.get("backup_retention_days"), settings.get("backup_keep_verified")
    with transaction():
        catalogue.sync_catalogue()
        plan = catalogue.plan_retention(catalogue.all_backups(), utcnow(), days, keep)
        doomed = [b.id for b in plan.delete]
    if dry_run:
        return doomed, []
    for backup_id in doomed:
        with transaction():
            catalogue.delete_backup(actor, catalogue.get_backup(backup_id),
                                   f"older than {days} days and not among the newest {keep} verified backups")
    return doomed, catalogue.discard_leftovers()


@dataclass
class RestoreResult:
    manifest: dict
    safety_id: str
    upgraded: bool


def restore_backup(actor: Actor, backup_id: str, report: Report | None = None) -> RestoreResult:
    """Replace the database with a backup, after verifying it and taking a safety backup.

    Raises RestoreRefused (nothing changed), or RestoreFailed after putting the safety
    backup back (``rolled_back`` False only when even that failed).
    """
    with backup_lock(_engine()):
        manifest = services.load_manifest(backup_id)
        progress = Progress(report)
        try:
            restoring.check_restorable(manifest)
            try:
                _verify_locked(actor, manifest, progress.span("verifying", 0, 10))
            except VerificationFailed as exc:
                raise RestoreRefused(f"backup {backup_id} fails verification: {exc}") from None
        except RestoreRefused as exc:
            _audit_backup(actor, AuditAction.SYSTEM_RESTORE, backup_id, f"Restore of backup {backup_id} refused: {exc}",
                          failed=True)
            raise
        with transaction():
            previous_head = audit.chain_head()
            erasures = erasure_copy.to_reapply()  # made true again in the restored data (below)
            audit.log(actor, AuditAction.SYSTEM_RESTORE, resource_type="backup", resource_id=backup_id,
                      resource_repr=f"Backup {backup_id}",
                      description=f"Restore of backup {backup_id} started; a safety backup is taken first")
        try:
            safety = _create_locked(actor, "safety", None, progress, start=10, end=45).manifest
        except (BackupFailed, VerificationFailed) as exc:
            refused = RestoreRefused(f"the safety backup failed, so nothing was changed: {exc}")
            _audit_backup(actor, AuditAction.SYSTEM_RESTORE, backup_id, f"Restore of backup {backup_id} refused: "
                          f"{refused}", failed=True)
            raise refused from None
        db.session.remove()  # hold no connection (and no lock) while the tables are replaced
        try:
            restoring.replace_database(manifest, progress.span("restoring", 45, 90))
            upgraded = restoring.needs_upgrade(manifest)
            if upgraded:
                progress.enter("upgrading", 90)
                restoring.upgrade_schema()
            reapplied = _reapply_erasures(actor, backup_id, erasures)
        except Exception as exc:
            log.exception("restore of backup %s failed; rolling back to safety backup %s", backup_id, safety["id"])
            rolled_back = _roll_back(safety, progress.span("rolling_back", 45, 100))
            try:
                _after_restore(actor, backup_id, failed=True, changes={
                    "safety_backup": safety["id"], "rolled_back": rolled_back, "error": str(exc)[:500]},
                    description=(f"Restore of backup {backup_id} failed ({exc}); " + (
                        f"the database was rolled back to safety backup {safety['id']}" if rolled_back else
                        f"rolling back to safety backup {safety['id']} failed too")))
            except Exception:  # the database may be unusable; the exception below says what happened
                log.exception("could not record the failed restore of backup %s", backup_id)
            raise RestoreFailed(str(exc), rolled_back=rolled_back, safety_id=safety["id"]) from exc
        progress.enter("checking", 95)
        _after_restore(actor, backup_id, changes={
            "safety_backup": safety["id"], "schema_upgraded": upgraded, "erasures_reapplied": reapplied,
            "previous_chain_head": {"id": previous_head[0], "hash": previous_head[1]},
            "restored_chain_head": manifest.get("audit_chain_head")},
            description=f"Restored backup {backup_id} (safety backup {safety['id']})")
        return RestoreResult(manifest, safety["id"], upgraded)


def _reapply_erasures(actor: Actor, backup_id: str, erasures: list[dict]) -> int:
    """Erase again whoever was erased after the backup was made, before anyone sees the data.

    A failure here fails the restore (and the safety backup is put back): restored data must
    never bring an erased person back.
    """
    db.session.remove()
    with transaction():
        reapplied = ledger.reapply(erasures)
        if reapplied:
            audit.log(actor, AuditAction.PRIVACY_LEDGER_REAPPLY, resource_type="backup", resource_id=backup_id,
                      resource_repr=f"Backup {backup_id}", changes={"erasures_reapplied": reapplied},
                      description=f"Erasure ledger re-applied after restoring backup {backup_id}: "
                                  f"{reapplied} subject(s) erased again")
    return reapplied


def _roll_back(safety: dict, progress: services.Fraction) -> bool:
    try:
        restoring.replace_database(safety, progress)
        return True
    except Exception:
        log.exception("rolling back to safety backup %s failed", safety["id"])
        return False


def _after_restore(actor: Actor, backup_id: str, *, description: str, changes: dict, failed: bool = False) -> None:
    """Caches describe the replaced data; the catalogue is the backup's: both are refreshed."""
    db.session.remove()
    cache.clear()
    with transaction():
        catalogue.sync_catalogue()
        audit.log(actor, AuditAction.SYSTEM_RESTORE, resource_type="backup", resource_id=backup_id,
                  resource_repr=f"Backup {backup_id}", description=description, changes=changes,
                  result=AuditResult.FAILURE if failed else AuditResult.SUCCESS)
        if not failed:
            events.announce(events.backup_restored, backup_id=backup_id, actor_id=actor.user_id)
