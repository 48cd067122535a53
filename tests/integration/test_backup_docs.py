"""docs/BACKUP_RECOVERY.md: every command in it runs, in order, against a real PostgreSQL database.

The ``sh`` blocks are one bash session (variables such as BACKUP_ID carry over). Only the
values that name a particular installation are swapped for this sandbox's (SUBSTITUTIONS);
commands shown outside ``sh`` blocks must be run by the test named in EXERCISED_ELSEWHERE.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backups_helpers import cli_env, pg_app_with_demo
from tests.integration.conftest import PG_ADMIN_URL, drop_database
from tests.integration.test_backup_scripts import FAKE_CRONTAB

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "BACKUP_RECOVERY.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
RECOVERED = f"saintara_test_docs_recovered_{os.getpid()}"

# Commands the document shows outside sh blocks, and the test files that run them.
EXERCISED_ELSEWHERE = {
    "flask --app wsgi jobs worker": ("tests/e2e/test_backups_flow.py", '"jobs", "worker"'),
    "scripts/backup/restore-database.sh 20261126T021500Z-3fa9c1": (
        "tests/integration/test_backup_scripts.py", 'script("restore-database.sh", backup_id, env=env, stdin='),
}


def blocks(kind: str | None = None) -> list[str]:
    return [body for lang, body in FENCE.findall(DOC.read_text()) if kind is None or lang == kind]


@pytest.fixture
def app(tmp_path, redis_url):
    try:
        with pg_app_with_demo(tmp_path, redis_url, "saintara_test_backup_docs") as application:
            yield application
    finally:
        drop_database(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + RECOVERED)


def test_every_sh_command_in_the_document_runs(app, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "crontab").write_text(FAKE_CRONTAB)
    (bin_dir / "crontab").chmod(0o755)
    env = cli_env(app, PYTHON=sys.executable)
    env_file = tmp_path / "backup.env"
    env_file.write_text("".join(f"{k}={v!r}\n" for k, v in env.items() if k not in ("PATH", "HOME")))
    admin = PG_ADMIN_URL.removeprefix("postgresql://").rsplit("/", 1)[0]  # postgres@127.0.0.1:5432
    substitutions = {
        "/etc/saintara/backup.env": str(env_file),
        "createdb --owner saintara ": "createdb ",
        "saintara_recovered": RECOVERED,
        "postgresql://saintara@db.internal:5432/": f"postgresql://{admin}/",
    }
    script = "\n".join(blocks("sh"))
    for needle, value in substitutions.items():
        assert needle in script, f"the document no longer contains {needle!r}: update SUBSTITUTIONS"
        script = script.replace(needle, value)
    user, _, hostport = admin.partition("@")
    result = subprocess.run(
        ["bash", "-c", "set -euxo pipefail\n" + script], cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**env, "PATH": f"{bin_dir}:{env['PATH']}", "FAKE_CRONTAB_FILE": str(tmp_path / "crontab.txt"),
             "PGHOST": hostport.split(":")[0], "PGPORT": hostport.split(":")[1], "PGUSER": user})
    assert result.returncode == 0, result.stderr[-4000:]
    commands = [line for line in result.stderr.splitlines() if line.startswith("+ ")]
    assert len(commands) >= sum(1 for b in blocks("sh") for ln in b.splitlines() if ln.strip()), commands
    assert "saintara-backup" in (tmp_path / "crontab.txt").read_text()
    assert "OK: " in result.stdout and "Retention deleted" in result.stdout
    # The recovered database holds the backup: the last command verified its audit chain.
    assert result.stdout.strip().splitlines()[-1].startswith("OK: ")


def test_commands_outside_sh_blocks_are_exercised_elsewhere():
    shown = []
    for body in blocks("text") + blocks("ini"):
        for line in body.splitlines():
            if line.startswith("$ "):
                shown.append(line[2:].strip())
            elif line.startswith("ExecStart="):
                shown.append(re.sub(r"^\S*/(flask)", r"\1", line.removeprefix("ExecStart=")))
    assert sorted(shown) == sorted(EXERCISED_ELSEWHERE)
    for command, (test_file, evidence) in EXERCISED_ELSEWHERE.items():
        assert evidence in (ROOT / test_file).read_text(), f"{test_file} no longer runs {command!r}"


def test_the_documented_exit_codes_and_settings_exist():
    from app.audit.models import AuditAction
    from app.backups import cli
    from app.backups.errors import BackupBusy, BackupNotFound, RestoreFailed
    from app.settings.definitions import BY_KEY

    text = DOC.read_text()
    assert all(f"`{code}`" in text for code in ("0", "1", "2", "3", "4"))
    assert (BackupNotFound.exit_code, BackupBusy.exit_code) == (2, 3)
    assert RestoreFailed("x", rolled_back=False, safety_id="s").exit_code == 4
    assert "4 a restore failed and so did the rollback" in cli.__doc__
    for key in ("backup_retention_days", "backup_keep_verified", "backup_drill_after_create"):
        assert key in BY_KEY and f"`{key}`" in text
    config = (ROOT / "app" / "config.py").read_text()
    for name in set(re.findall(r"`(BACKUP_[A-Z_0-9]+)`", text)) - {action.value for action in AuditAction}:
        assert f'"{name}"' in config, f"{name} is documented but not read in app/config.py"
