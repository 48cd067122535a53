"""A superadmin backs up, watches the progress (it survives a reload), verifies and restores."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys

import psycopg2
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ROOT, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD

pytestmark = pytest.mark.e2e
LONG = 120_000  # ms: a backup, a drill or a restore on two busy cores


@contextlib.contextmanager
def jobs_worker(env: dict):
    """The RQ worker, started as production starts it: ``flask --app wsgi jobs worker``."""
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker"], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


def sql(env: dict, statement: str, *params):
    conn = psycopg2.connect(env["DATABASE_URL"])
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def sign_in(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("E-mail", exact=True).fill(SUPERADMIN_EMAIL)
    page.get_by_label("Password").fill(SUPERADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))


# Records every job status the page polls, in sessionStorage (it survives the page's reloads).
RECORD_POLLS = """
const realFetch = window.fetch;
window.fetch = async (...args) => {
  const response = await realFetch(...args);
  if (String(args[0]).includes("/jobs/")) {
    const seen = JSON.parse(sessionStorage.getItem("polls") || "[]");
    seen.push(await response.clone().json());
    sessionStorage.setItem("polls", JSON.stringify(seen));
  }
  return response;
};
"""


def test_back_up_watch_progress_verify_and_restore(page: Page, live_env, csp_violations):
    page.add_init_script(RECORD_POLLS)
    sign_in(page)
    page.get_by_role("link", name="Backups").click()
    expect(page.get_by_role("heading", name="Backups")).to_be_visible()

    # Queued while no worker runs: the progress panel says so, and a reload keeps showing it.
    page.get_by_role("button", name="Back up now").click()
    panel = page.get_by_test_id("backup-job")
    expect(panel).to_contain_text("Waiting for a background worker")
    expect(page.get_by_role("button", name="Back up now")).to_be_disabled()
    page.reload()
    expect(panel).to_contain_text("Waiting for a background worker")

    with jobs_worker(live_env):
        # The page polls the job: the bar moves through the stages, then the page shows the result.
        expect(page.get_by_test_id("backup-job-message")).to_contain_text("was created and verified", timeout=LONG)
        expect(page.locator("[data-job-progress]")).to_have_attribute("value", "100.0")
        polls = page.evaluate("JSON.parse(sessionStorage.getItem('polls') || '[]')")
        assert polls[0]["state"] == "queued" and polls[-1]["state"] == "succeeded"
        running = [p for p in polls if p["state"] == "running"]
        assert running and all(0 <= p["percent"] < 100 for p in running)
        assert {p["stage_label"] for p in running} <= {
            "Starting…", "Dumping the database", "Storing the backup", "Verifying",
            "Restore drill in a scratch database", "Applying retention"}
        row = page.get_by_test_id("backup-list").locator("tbody tr").first
        backup_id = row.get_attribute("data-backup-id")
        expect(row.get_by_test_id("backup-status")).to_have_text(re.compile("verified|drill passed"))
        expect(page.get_by_test_id("backup-health")).to_contain_text("The newest verified backup is")

        row.get_by_role("button", name="Verify").click()
        expect(page.get_by_test_id("backup-job-message")).to_have_text(
            f"Backup {backup_id} passed verification.", timeout=LONG)

        # Something changes after the backup; the restore takes it away again.
        sql(live_env, "INSERT INTO institutions (code, name) VALUES ('E2E01', 'Opened after the backup')")
        page.get_by_test_id("backup-list").locator(f"tr[data-backup-id='{backup_id}']").get_by_role(
            "link", name="Restore").click()
        expect(page).to_have_url(re.compile(r"/step-up"))  # step-up first
        page.get_by_label("Password").fill(SUPERADMIN_PASSWORD)
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name=f"Restore backup {backup_id}")).to_be_visible()
        replaced = page.get_by_test_id("restore-tables")
        expect(replaced.locator("tr", has_text="institutions")).to_contain_text("21")  # now 21, then 20
        expect(replaced.locator("tr", has_text="institutions")).to_contain_text("20")

        page.get_by_label("Backup id").fill("the wrong id")
        page.get_by_role("button", name="Restore this backup").click()
        expect(page.get_by_text("This is not the id of the backup.")).to_be_visible()
        page.get_by_label("Backup id").fill(backup_id)
        page.get_by_role("button", name="Restore this backup").click()
        expect(page).to_have_url(re.compile(r"/backups/$"))
        expect(page.get_by_test_id("backup-job-message")).to_contain_text(
            f"Backup {backup_id} was restored.", timeout=LONG)
    assert sql(live_env, "SELECT count(*) FROM institutions WHERE code = 'E2E01'") == [(0,)]
    kinds = page.get_by_test_id("backup-list").locator("tbody tr")
    expect(kinds).to_have_count(2)  # the backup and the safety backup taken before the restore
    expect(page.get_by_test_id("backup-list")).to_contain_text("safety")
    assert csp_violations == []
