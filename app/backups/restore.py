"""Restoring: what a restore would replace, whether it may run, and the replacement itself.

The order of a restore (app/backups/procedures.py): verify the backup, refuse a newer
schema, take a safety backup, replace the database, check it against the manifest,
upgrade an older schema; on any failure put the safety backup back.
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import current_app

from app.backups.engines import EngineError, Snapshot, engine_for_app
from app.backups.errors import RestoreRefused
from app.backups.services import Fraction, _ignore, compare_snapshot, counting, decoded_artifact


class RestoreCheckFailed(Exception):
    """The restored database does not match the backup's manifest."""


def migration_scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", current_app.extensions["migrate"].directory)
    return ScriptDirectory.from_config(config)


def check_restorable(manifest: dict) -> None:
    """Refuse (RestoreRefused) a backup of another engine, without a schema revision, or from a newer schema."""
    engine = engine_for_app()
    if manifest.get("engine") != engine.name:
        raise RestoreRefused(f"backup {manifest['id']} was made from {manifest.get('engine')}; "
                             f"this portal runs on {engine.name}")
    revision = manifest.get("alembic_revision")
    if not revision:
        raise RestoreRefused(f"backup {manifest['id']} records no schema revision, so it cannot be checked")
    scripts = migration_scripts()
    if revision not in {script.revision for script in scripts.walk_revisions()}:
        raise RestoreRefused(f"backup {manifest['id']} comes from a newer schema revision ({revision}) than this "
                             f"portal knows (newest {scripts.get_current_head()}); upgrade the portal first")


def needs_upgrade(manifest: dict) -> bool:
    return manifest.get("alembic_revision") != migration_scripts().get_current_head()


@dataclass(frozen=True)
class RestorePlan:
    """What a restore of ``manifest`` would replace in the live database (the confirmation page)."""

    manifest: dict
    live: Snapshot
    refused: str | None

    @property
    def tables(self) -> list[tuple[str, int | None, int | None]]:
        """(table, rows now, rows after); the catalogue is left out: it is rebuilt from the storage."""
        backup = self.manifest["tables"]
        return [(name, self.live.tables.get(name), backup.get(name))
                for name in sorted((set(backup) | set(self.live.tables)) - {"backups"})]

    @property
    def audit_entries_after_backup(self) -> int:
        backup_head = (self.manifest.get("audit_chain_head") or {}).get("id") or 0
        return max(0, (self.live.chain_head_id or 0) - backup_head)

    @property
    def upgrade_needed(self) -> bool:
        return needs_upgrade(self.manifest)


def restore_plan(manifest: dict) -> RestorePlan:
    refused = None
    try:
        check_restorable(manifest)
    except RestoreRefused as exc:
        refused = str(exc)
    return RestorePlan(manifest, engine_for_app().inspect(), refused)


def replace_database(manifest: dict, progress: Fraction = _ignore) -> None:
    """Replace the live database with the backup, then check it against the manifest.

    On PostgreSQL ``pg_restore`` runs as one transaction: if it fails or is killed, the
    database is as it was. Raises EngineError, ArtifactDamaged or RestoreCheckFailed.
    """
    engine = engine_for_app()
    with decoded_artifact(manifest) as chunks:
        engine.drop_tables_not_in(set(manifest["tables"]))
        engine.restore(chunks, counting(progress, max(1, manifest["dump_bytes"])))
    problems = compare_snapshot(manifest, engine.inspect())
    if problems:
        raise RestoreCheckFailed("the restored database differs from the backup: " + "; ".join(problems))


def upgrade_schema() -> None:
    """Bring a database restored from an older schema revision up to this portal's schema."""
    from flask_migrate import upgrade

    try:
        upgrade()
    except Exception as exc:  # alembic raises many kinds; any of them means the restore failed
        raise EngineError(f"upgrading the restored schema failed: {exc}") from exc
