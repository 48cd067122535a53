"""End-to-end: Debian's Chromium, driven by Playwright, against a real gunicorn server
on a PostgreSQL database of this run's own and Redis db index 12.

A missing browser fails these tests; `make test` installs Debian's chromium.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet

from tests.integration.conftest import REDIS_BASE, create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
SUPERADMIN_EMAIL = "superadmin@e2e.saintara.id"
SUPERADMIN_PASSWORD = "e2e chromium passphrase"
REDIS_DB_INDEX = int(os.environ.get("TEST_REDIS_E2E_DB", "12"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}; run `make browser` (or `make test`)", pytrace=False)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_env(tmp_path_factory) -> dict:
    """Environment of the live server (and of CLI commands run against it)."""
    database_url = create_database("saintara_test_e2e")
    redis_url = f"{REDIS_BASE}/{REDIS_DB_INDEX}"
    redis.Redis.from_url(redis_url).flushdb()
    env = {
        "PATH": os.environ["PATH"],
        "APP_ENV": "development",
        "DATABASE_URL": database_url.replace("postgresql+psycopg2://", "postgresql://"),
        "REDIS_URL": redis_url,
        "SECRET_KEY": "e2e-" + Fernet.generate_key().decode(),
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("e2e-instance")),
        "ARGON2_MEMORY_COST": "8192",
    }
    yield env
    drop_database(database_url)


def flask_cli(env: dict, *args: str, extra_env: dict | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                            env={**env, **(extra_env or {})}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="session")
def live_server(live_env):
    """A gunicorn server (2 workers) with migrations, demo data and a superadmin."""
    flask_cli(live_env, "db", "upgrade")
    flask_cli(live_env, "users", "create-superadmin", "--email", SUPERADMIN_EMAIL, "--name", "E2E Superadmin",
              extra_env={"ADMIN_PASSWORD": SUPERADMIN_PASSWORD})
    flask_cli(live_env, "seed-demo")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
        env={**live_env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError("the live server did not start:\n" + process.stdout.read()) from None
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=30)
    process.stdout.close()


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    return live_server


@pytest.fixture
def csp_violations(page):
    """Console errors about the Content-Security-Policy seen during the test."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None)
    return seen


@pytest.fixture(autouse=True)
def _fresh_stores():
    """The live server keeps its own stores; the in-process app of the other suites is not needed."""
    yield
