"""The backup catalogue (one row per stored backup, rebuilt from the storage) and retention."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import format_timedelta
from flask_babel import lazy_gettext as _l
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from app.audit import services as audit
from app.audit.models import AuditAction
from app.backups.errors import BackupNotFound
from app.backups.ids import ID_PATTERN, check_id
from app.backups.models import PASSED, Backup
from app.backups.storage import MANIFEST_SUFFIX, STATUS_SUFFIX, get_storage
from app.database import utcnow
from app.extensions import db
from app.observability.readings import Reading
from app.pagination import Keyset, Page
from app.security.actor import Actor

STALE_AFTER = timedelta(hours=26)
CATALOGUE_ORDER = Keyset((Backup.created_at, Backup.id))


def _columns(manifest: dict, status: dict | None) -> dict:
    status = status or {}
    verify, drill = status.get("verify") or {}, status.get("drill") or {}
    return {
        "created_at": datetime.fromisoformat(manifest["created_at"]),
        "kind": manifest["kind"],
        "engine": manifest["engine"],
        "created_by": manifest["created_by"][:254],
        "size_bytes": manifest["size_bytes"],
        "compression": manifest["compression"],
        "encrypted": manifest.get("encryption") is not None,
        "alembic_revision": manifest.get("alembic_revision"),
        "storage": manifest.get("storage", "local"),
        "manifest": manifest,
        "verify_status": verify.get("status"),
        "verified_at": datetime.fromisoformat(verify["at"]) if verify.get("at") else None,
        "verify_detail": verify.get("detail"),
        "drill_status": drill.get("status"),
        "drilled_at": datetime.fromisoformat(drill["at"]) if drill.get("at") else None,
        "drill_detail": drill.get("detail"),
        "drill_seconds": drill.get("seconds"),
    }


def upsert_backup(manifest: dict, status: dict | None = None) -> Backup:
    """Make the catalogue row of a stored backup match its manifest and status file."""
    row = db.session.get(Backup, manifest["id"])
    if row is None:
        row = Backup(id=manifest["id"])
        db.session.add(row)
    for name, value in _columns(manifest, status).items():
        setattr(row, name, value)
    db.session.flush()
    return row


def sync_catalogue() -> tuple[int, int]:
    """Rebuild the catalogue from the storage (after a restore, or on a new server); returns (kept, removed)."""
    storage = get_storage()
    names = storage.names()
    stored = {}
    for name in names:
        if name.endswith(MANIFEST_SUFFIX) and ID_PATTERN.match(name[: -len(MANIFEST_SUFFIX)]):
            backup_id = name[: -len(MANIFEST_SUFFIX)]
            manifest = storage.get_json(name)
            status = storage.get_json(backup_id + STATUS_SUFFIX) if backup_id + STATUS_SUFFIX in names else None
            if manifest:
                stored[backup_id] = upsert_backup(manifest, status)
    gone = [row for row in db.session.scalars(select(Backup)) if row.id not in stored]
    for row in gone:
        db.session.delete(row)
    db.session.flush()
    return len(stored), len(gone)


def catalogue_page(cursor: str | None = None, direction: str = "next", size: int = 25) -> Page:
    """One page of the catalogue, newest first (keyset pagination)."""
    return CATALOGUE_ORDER.page(select(Backup), cursor=cursor, direction=direction, size=size)


def all_backups() -> list[Backup]:
    return list(db.session.scalars(select(Backup).order_by(Backup.created_at.desc(), Backup.id.desc())))


def get_backup(backup_id: str) -> Backup:
    row = db.session.get(Backup, check_id(backup_id))
    if row is None:
        raise BackupNotFound(f"backup {backup_id} is not in the catalogue")
    return row


def newest_verified_backup_age(now: datetime | None = None) -> timedelta | None:
    """How old the newest backup that passed verification is (None when there is none).

    The dashboard shows it and warns when it is older than :data:`STALE_AFTER` (26 hours).
    """
    newest = db.session.scalar(select(func.max(Backup.created_at)).where(Backup.verify_status == PASSED))
    if newest is None:
        return None
    if newest.tzinfo is None:  # SQLite's max() bypasses the column type
        newest = datetime.fromisoformat(str(newest)).replace(tzinfo=utcnow().tzinfo)
    return (now or utcnow()) - newest


def newest_verified_backup_is_stale(now: datetime | None = None) -> bool:
    """True when there is no verified backup, or the newest is older than 26 hours."""
    age = newest_verified_backup_age(now)
    return age is None or age > STALE_AFTER


# -- retention -------------------------------------------------------------------------
def dashboard_reading():
    """The dashboard's backup card: how old the newest verified backup is; a warning past 26 hours."""
    newest = db.session.scalars(select(Backup).where(Backup.verify_status == PASSED)
                                .order_by(Backup.created_at.desc(), Backup.id.desc()).limit(1)).first()
    if newest is None:
        return Reading("danger", _l("None"), _l("No backup has passed verification yet."))
    age = utcnow() - newest.created_at
    if age > STALE_AFTER:
        return Reading("warning", format_timedelta(age), _l("Older than 26 hours: check the scheduled backups."),
                       as_of=newest.created_at)
    return Reading("ok", format_timedelta(age), _l("Backup %(id)s", id=newest.id), as_of=newest.created_at)


@dataclass(frozen=True)
class RetentionPlan:
    keep: list[Backup]
    delete: list[Backup]


def plan_retention(backups: list[Backup], now: datetime, days: int, keep_verified: int) -> RetentionPlan:
    """Keep what is younger than ``days`` and the newest ``keep_verified`` (at least 1) verified backups."""
    newest_first = sorted(backups, key=lambda b: (b.created_at, b.id), reverse=True)
    protected = {b.id for b in [b for b in newest_first if b.verified][: max(1, keep_verified)]}
    cutoff = now - timedelta(days=days)
    keep = [b for b in newest_first if b.id in protected or b.created_at >= cutoff]
    kept = {b.id for b in keep}
    return RetentionPlan(keep, [b for b in newest_first if b.id not in kept])


def delete_backup(actor: Actor, backup: Backup, reason: str) -> None:
    """Remove a backup from the storage (manifest first: it disappears at once) and the catalogue; audited."""
    storage = get_storage()
    storage.delete(backup.id + MANIFEST_SUFFIX)
    storage.delete(backup.manifest["artifact"])
    storage.delete(backup.id + STATUS_SUFFIX)
    audit.log(actor, AuditAction.BACKUP_DELETE, resource_type="backup", resource_id=backup.id,
              resource_repr=f"Backup {backup.id}", description=f"Deleted backup {backup.id}: {reason}",
              changes={"created_at": backup.created_at.isoformat(), "size_bytes": backup.size_bytes,
                       "verify_status": backup.verify_status})
    db.session.delete(backup)
    db.session.flush()


def discard_leftovers() -> list[str]:
    """Remove what killed backups left: staged files, unfinished uploads, artifacts without a manifest.

    Call only while holding the backup lock (nothing else can be writing then).
    """
    storage = get_storage()
    removed = storage.discard_incomplete()
    names = storage.names()
    with_manifest = {n[: -len(MANIFEST_SUFFIX)] for n in names if n.endswith(MANIFEST_SUFFIX)}
    for name in names:
        backup_id = name.split(".", 1)[0]
        if ID_PATTERN.match(backup_id) and backup_id not in with_manifest:
            storage.delete(name)
            removed.append(name)
    return removed


def newest_verified_backup() -> GaugeMetricFamily:
    """Prometheus gauge: age of the newest backup that passed verification."""
    age = newest_verified_backup_age()
    family = GaugeMetricFamily(
        "saintara_backup_newest_verified_age_seconds",
        "Age of the newest backup that passed verification (+Inf when there is none).")
    family.add_metric([], age.total_seconds() if age is not None else math.inf)
    return family


def last_restore_drill() -> list[GaugeMetricFamily]:
    """Prometheus gauges: the newest restore drill's result and time (stored, never rerun)."""
    newest = db.session.execute(
        select(Backup.drill_status, Backup.drilled_at).where(Backup.drilled_at.is_not(None))
        .order_by(Backup.drilled_at.desc()).limit(1)).first()
    success = GaugeMetricFamily(
        "saintara_restore_drill_last_success",
        "1 when the newest restore drill matched its manifest, 0 when it failed (NaN: never drilled).")
    success.add_metric([], math.nan if newest is None else float(newest.drill_status == PASSED))
    when = GaugeMetricFamily("saintara_restore_drill_last_timestamp_seconds",
                             "When the newest restore drill ran, in seconds since 1970 (NaN: never).")
    when.add_metric([], math.nan if newest is None else newest.drilled_at.timestamp())
    return [success, when]
