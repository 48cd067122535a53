"""``flask backup``: what operators script against (last line, JSON, exit codes)."""

import json

import pytest

from app.backups.engines import engine_for_app
from app.backups.locking import backup_lock
from tests.backups_helpers import add_customers, artifact_path, flip_byte, sqlite_app_with_customers, table_contents


@pytest.fixture
def app(tmp_path):
    with sqlite_app_with_customers(tmp_path, 12) as application:
        yield application


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, **kwargs: runner.invoke(args=["backup", *args], **kwargs)


def test_create_prints_the_id_last_and_list_shows_it(cli):
    created = cli("create", "--no-drill")
    assert created.exit_code == 0, created.output
    backup_id = created.stdout.strip().splitlines()[-1]
    assert "dumping" in created.stderr and f"Backup {backup_id}:" in created.stderr
    quiet = cli("create", "--kind", "scheduled", "--compression", "gzip", "--drill", "--quiet")
    assert quiet.exit_code == 0 and "dumping" not in quiet.stderr and "drill passed" in quiet.stderr
    scheduled_id = quiet.stdout.strip().splitlines()[-1]
    listed = json.loads(cli("list", "--json").stdout)
    assert [e["id"] for e in listed] == [scheduled_id, backup_id]
    assert listed[0]["kind"] == "scheduled" and listed[0]["compression"] == "gzip"
    assert listed[0]["created_by"] == "cron" and listed[0]["status"] == "drilled"
    assert listed[1]["status"] == "verified" and listed[1]["drill_status"] is None
    text = cli("list").stdout
    assert backup_id in text and "verified" in text and "drilled" in text


def test_empty_list(cli):
    assert cli("list").stdout.strip() == "No backups."
    assert json.loads(cli("list", "--json").stdout) == []


def test_verify_and_drill_exit_non_zero_on_failure(app, cli):
    backup_id = cli("create", "--no-drill").stdout.strip().splitlines()[-1]
    ok = cli("verify", backup_id)
    assert ok.exit_code == 0 and ok.stdout.startswith(f"OK: backup {backup_id} verified")
    assert cli("drill", backup_id).exit_code == 0
    flip_byte(artifact_path(app, backup_id))
    bad = cli("verify", backup_id)
    assert bad.exit_code == 1 and "FAILED: the artifact's SHA-256 does not match" in bad.stderr
    assert cli("drill", backup_id).exit_code == 1
    missing = cli("verify", "20990101T000000Z-abcdef")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    assert cli("verify", "not-an-id").exit_code == 2


def test_restore_with_yes_and_with_typed_confirmation(app, cli):
    backup_id = cli("create", "--no-drill").stdout.strip().splitlines()[-1]
    expected = table_contents()["customers"]
    add_customers(3, prefix="Later")
    refused = cli("restore", backup_id, input="wrong\n")
    assert refused.exit_code == 1 and "nothing was changed" in refused.stderr
    assert len(table_contents()["customers"]) == 15
    typed = cli("restore", backup_id, input=f"{backup_id}\n")
    assert typed.exit_code == 0 and f"OK: restored backup {backup_id}; safety backup" in typed.stdout
    assert table_contents()["customers"] == expected
    add_customers(1, prefix="Again")
    assert cli("restore", backup_id, "--yes").exit_code == 0
    assert table_contents()["customers"] == expected
    flip_byte(artifact_path(app, backup_id))
    broken = cli("restore", backup_id, "--yes")
    assert broken.exit_code == 1 and "Refused (nothing was changed)" in broken.stderr
    assert cli("restore", "20990101T000000Z-abcdef", "--yes").exit_code == 2


def test_cleanup_and_busy_lock(app, cli):
    cli("create", "--no-drill")
    dry = cli("cleanup", "--dry-run")
    assert dry.exit_code == 0 and dry.stdout.strip() == "Retention would delete 0 backup(s)."
    with backup_lock(engine_for_app()):
        busy = cli("create")
        assert busy.exit_code == 3 and "another backup operation" in busy.stderr
        assert cli("cleanup").exit_code == 3
    assert cli("cleanup").stdout.strip().endswith("Retention deleted 0 backup(s).")


def test_a_backup_that_fails_verification_still_names_itself(app, cli, monkeypatch):
    from app.backups import services

    def broken_check(manifest, progress=None):
        raise services.VerificationFailed("simulated damage")

    monkeypatch.setattr(services, "check_artifact", broken_check)
    result = cli("create", "--no-drill")
    assert result.exit_code == 1 and "simulated damage" in result.stderr
    backup_id = result.stdout.strip().splitlines()[-1]
    assert json.loads(cli("list", "--json").stdout)[0] == {**json.loads(cli("list", "--json").stdout)[0],
                                                          "id": backup_id, "status": "failed"}
