"""scripts/backup/*.sh: thin wrappers over ``flask backup``, on PostgreSQL; setup-cron is idempotent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backups_helpers import (
    add_customers,
    artifact_path,
    cli_env,
    flip_byte,
    pg_app_with_demo,
    table_contents,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "backup"
FAKE_CRONTAB = """#!/bin/sh
# A stand-in for crontab(1) that keeps the table in $FAKE_CRONTAB_FILE.
case "$1" in
  -l) [ -f "$FAKE_CRONTAB_FILE" ] || { echo "no crontab for $(id -un)" >&2; exit 1; }
      cat "$FAKE_CRONTAB_FILE" ;;
  -) cat > "$FAKE_CRONTAB_FILE" ;;
  *) echo "fake crontab: unsupported $*" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def app(tmp_path, redis_url):
    with pg_app_with_demo(tmp_path, redis_url, "saintara_test_backup_scripts") as application:
        yield application


def script(name: str, *args: str, env: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPTS / name), *args], env={**env, "PYTHON": sys.executable}, input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_the_scripts_wrap_the_cli(app):
    env = cli_env(app)
    created = script("backup-database.sh", "--no-drill", env=env)
    assert created.returncode == 0, created.stderr
    backup_id = created.stdout.strip().splitlines()[-1]
    listed = script("list-backups.sh", "--json", env=env)
    assert [entry["id"] for entry in json.loads(listed.stdout)] == [backup_id]
    assert backup_id in script("list-backups.sh", env=env).stdout
    verified = script("verify-backup.sh", backup_id, "--drill", env=env)
    assert verified.returncode == 0 and "verified" in verified.stdout and "drill of backup" in verified.stdout

    expected = table_contents()["customers"]
    add_customers(3, institution_code="SCR01")
    assert script("restore-database.sh", backup_id, env=env, stdin="not it\n").returncode == 1
    restored = script("restore-database.sh", backup_id, "--yes", env=env)
    assert restored.returncode == 0 and f"OK: restored backup {backup_id}" in restored.stdout
    assert table_contents()["customers"] == expected

    for name in ("restore-database.sh", "verify-backup.sh"):
        usage = script(name, env=env)
        assert usage.returncode == 2 and "usage:" in usage.stderr
    flip_byte(artifact_path(app, backup_id))
    broken = script("verify-backup.sh", backup_id, env=env)
    assert broken.returncode == 1 and "FAILED" in broken.stderr


def test_setup_cron_installs_one_line_and_the_line_works(app, tmp_path):
    fake = tmp_path / "crontab"
    fake.write_text(FAKE_CRONTAB)
    fake.chmod(0o755)
    table = tmp_path / "table"
    table.write_text("0 * * * * /usr/local/bin/something-else\n")
    env_file = tmp_path / "backup env"  # a space, to prove the quoting
    env_file.write_text("".join(f"{key}={value!r}\n" for key, value in {
        **cli_env(app), "PYTHON": sys.executable}.items() if key not in ("PATH", "HOME")))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CRONTAB": str(fake),
           "FAKE_CRONTAB_FILE": str(table)}

    def setup(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(SCRIPTS / "setup-cron.sh"), *args], env=env, capture_output=True, text=True,
                              timeout=60)

    first = setup("--env-file", str(env_file), "--log", str(tmp_path / "cron.log"))
    assert first.returncode == 0, first.stderr
    again = setup("--env-file", str(env_file), "--log", str(tmp_path / "cron.log"))
    assert again.returncode == 0 and table.read_text() == "0 * * * * /usr/local/bin/something-else\n" + \
        first.stdout.removeprefix("Installed: ")
    lines = table.read_text().splitlines()
    assert len(lines) == 2 and lines[1].startswith("15 2 * * * cd ") and lines[1].endswith("# saintara-backup")

    hourly = setup("--schedule", "5 * * * *", "--env-file", str(env_file), "--log", str(tmp_path / "cron.log"))
    assert hourly.returncode == 0 and [ln for ln in table.read_text().splitlines() if "saintara" in ln][0].startswith(
        "5 * * * * ")
    assert len(table.read_text().splitlines()) == 2
    assert setup("--schedule", "daily").returncode == 2
    assert setup("--bogus").returncode == 2

    # What cron would run, in cron's nearly empty environment: a scheduled backup.
    command = table.read_text().splitlines()[1].split(" ", 5)[5].rsplit(" # ", 1)[0]
    ran = subprocess.run(["/bin/sh", "-c", command], env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, (tmp_path / "cron.log").read_text()
    log = (tmp_path / "cron.log").read_text().strip().splitlines()
    listed = json.loads(script("list-backups.sh", "--json", env=cli_env(app)).stdout)
    assert listed[0]["id"] == log[-1] and listed[0]["kind"] == "scheduled" and listed[0]["created_by"] == "cron"

    removed = setup("--remove")
    assert removed.returncode == 0 and table.read_text() == "0 * * * * /usr/local/bin/something-else\n"
