"""The README's Production steps work as written: each command of its code block runs, in order,
against a PostgreSQL role and database of this test's own and this suite's Redis db, up to a
gunicorn that serves /healthz and the sign-in page, and a jobs worker that registers.

What the test changes in a command, and why (a README edit that breaks one of these fails here):

* ``/etc/saintara/portal.env`` is an env file written by the test with the variables the README's
  table lists (production mode, so cookies are Secure);
* ``sudo -u postgres psql`` is ``psql <TEST_POSTGRES_URL>`` (a superuser connection of the test
  server), and the role and database ``saintara`` get a unique ``saintara_test_readme_…`` name;
  both are dropped afterwards;
* ``scripts/backup/setup-cron.sh`` runs with ``CRONTAB`` naming a stand-in that keeps the crontab in a
  file: installing into the real crontab would change this machine for everyone (the script documents
  ``CRONTAB`` for ``crontab -u``), so only what it would install is checked.
* ``make setup`` runs as is; only if the shared virtualenv is older than requirements.txt is its pip
  step left out (``make -o``): reinstalling packages into it is not this test's business.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar
from pathlib import Path

import psycopg2
import pytest
import redis
from cryptography.fernet import Fernet
from psycopg2 import sql

from tests.integration.conftest import PG_ADMIN_URL, REDIS_BASE, REDIS_DB_INDEX
from tests.integration.test_gunicorn import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
README_ENV_FILE = "/etc/saintara/portal.env"
NEEDS_HTTPS = "This portal needs HTTPS (or X-Forwarded-Proto from your proxy)."
ADMIN_PASSWORD = "readme test passphrase 2026"


def production_commands() -> list[str]:
    """The commands of the first ``sh`` block of the README's Production section, comments removed."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Production\n"):]
    section = section[:section.index("\n## ", 1)]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README's Production section has no sh code block"
    commands = [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.group(1).splitlines()]
    return [command for command in commands if command and not command.startswith("#")]


def drop_role_and_database(name: str) -> None:
    assert name.startswith("saintara_test"), "only this suite's own databases and roles are ever dropped"
    conn = psycopg2.connect(PG_ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
    conn.close()


class Browser:
    """Plain urllib with a cookie jar; ``proxy_https`` adds what a TLS-terminating proxy adds."""

    def __init__(self, base: str, proxy_https: bool):
        self.base = base
        # Over HTTPS, Flask-WTF also wants a same-origin Referer (a browser sends one).
        self.headers = {"X-Forwarded-Proto": "https", "Referer": base.replace("http://", "https://") + "/login"} \
            if proxy_https else {}
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect())

    def open(self, path: str, data: dict | None = None) -> tuple[int, dict, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=self.headers)
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, dict(exc.headers), exc.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def wait_until(check, process: subprocess.Popen, log: Path, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            result = check()
        except OSError:
            result = None
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"{what} did not come up within {timeout} s:\n{log.read_text()[-4000:]}")


def healthy(base: str) -> bool:
    with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
        return response.status == 200


def check_the_portal(base: str) -> None:
    """/healthz and the sign-in page answer; plain HTTP says HTTPS is needed; through a proxy
    that sends X-Forwarded-Proto the superadmin signs in."""
    plain = Browser(base, proxy_https=False)
    assert plain.open("/healthz")[0] == 200
    status, _headers, page = plain.open("/login")
    assert status == 200 and NEEDS_HTTPS in page
    # The browser never sends a Secure cookie back over plain HTTP: the sign-in says why it fails.
    status, _headers, page = plain.open("/login", {"csrf_token": csrf_token(page), "email": "ops@example.com",
                                                    "password": ADMIN_PASSWORD})
    assert status == 400 and NEEDS_HTTPS in page and "had expired" not in page

    proxied = Browser(base, proxy_https=True)
    status, headers, page = proxied.open("/login")
    assert status == 200 and NEEDS_HTTPS not in page and "Secure" in headers["Set-Cookie"]
    for cookie in proxied.jar:
        cookie.secure = False  # urllib talks plain HTTP to gunicorn; the proxy would carry the cookie over TLS
    status, headers, _page = proxied.open("/login", {"csrf_token": csrf_token(page), "email": "ops@example.com",
                                                     "password": ADMIN_PASSWORD})
    assert status == 302 and not headers["Location"].startswith("/login"), (status, headers)


def test_the_readme_production_steps_run_as_written(tmp_path):
    commands = production_commands()
    name = f"saintara_test_readme_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    port = free_port()
    redis_url = f"{REDIS_BASE}/{REDIS_DB_INDEX}"
    admin = urllib.parse.urlsplit(PG_ADMIN_URL)
    env_file = tmp_path / "portal.env"
    env_file.write_text("\n".join([
        "APP_ENV=production",
        f"SECRET_KEY=readme-{Fernet.generate_key().decode()}",
        f"ENCRYPTION_KEY={Fernet.generate_key().decode()}",
        f"DATABASE_URL=postgresql://{name}:change-me@{admin.hostname}:{admin.port or 5432}/{name}",
        f"REDIS_URL={redis_url}",
        f"BIND=127.0.0.1:{port}",
        "WEB_CONCURRENCY=2",
        f"ADMIN_PASSWORD='{ADMIN_PASSWORD}'",
        f"INSTANCE_PATH={tmp_path / 'instance'}",
        f"BACKUP_DIR={tmp_path / 'backups'}",
        f"XDG_RUNTIME_DIR={tmp_path}",
        "ARGON2_MEMORY_COST=8192",
    ]) + "\n")
    crontab_file = tmp_path / "crontab"
    fake_crontab = tmp_path / "fake-crontab"
    fake_crontab.write_text(f'#!/bin/sh\nif [ "$1" = "-l" ]; then cat {crontab_file} 2>/dev/null; '
                            f'else cat > {crontab_file}; fi\n')
    fake_crontab.chmod(0o755)

    def substituted(command: str) -> str:
        command = command.replace(README_ENV_FILE, shlex.quote(str(env_file)))
        if command.startswith("sudo -u postgres psql"):
            command = command.replace("sudo -u postgres psql", "psql " + shlex.quote(PG_ADMIN_URL), 1)
            command = re.sub(r"\bsaintara\b", name, command)
        if command == "make setup" and subprocess.run(["make", "-q", ".venv/.runtime"], cwd=ROOT).returncode:
            command = "make -o .venv/.runtime setup"
        return command

    base_env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8",
                "CRONTAB": str(fake_crontab)}
    base = f"http://127.0.0.1:{port}"
    store = redis.Redis.from_url(redis_url)
    store.flushdb()  # this suite's own db: no worker of an earlier run is registered
    prelude, ran, processes = "", [], []
    try:
        for command in map(substituted, commands):
            if command.startswith("set -a;"):
                prelude = command + "\n"
                ran.append(command)
                continue
            script = f"set -e\n{prelude}exec {command}" if "&&" not in command and ";" not in command \
                else f"set -e\n{prelude}{command}"
            long_running = command.startswith(".venv/bin/gunicorn") or command.endswith("jobs worker")
            if not long_running:
                result = subprocess.run(["bash", "-c", script], cwd=ROOT, env=base_env, capture_output=True,
                                        text=True, timeout=300)
                assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
                ran.append(command)
                continue
            log = tmp_path / f"process-{len(processes)}.log"
            with open(log, "w") as out:
                process = subprocess.Popen(["bash", "-c", script], cwd=ROOT, env=base_env, stdout=out,
                                           stderr=subprocess.STDOUT, start_new_session=True)
            processes.append(process)
            if command.startswith(".venv/bin/gunicorn"):
                wait_until(lambda: healthy(base), process, log, "gunicorn")
                check_the_portal(base)
            else:
                wait_until(lambda: store.scard("rq:workers") > 0, process, log, "the jobs worker")
            ran.append(command)

        assert len(ran) == len(commands)
        assert any(c.startswith("make setup") or c.startswith("make -o") for c in ran)
        assert any("CREATE DATABASE" in c for c in ran) and any(c.startswith(".venv/bin/gunicorn") for c in ran)
        installed = crontab_file.read_text()
        assert "scripts/backup/backup-database.sh" in installed and str(env_file) in installed
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, 15)
                process.wait(timeout=30)
        drop_role_and_database(name)
        store.flushdb()
        store.close()
