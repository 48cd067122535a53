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

from app.vapid import new_key_pair
from tests.integration.conftest import REDIS_BASE, create_database, drop_database
from tests.sentry_server import EnvelopeServer

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
SUPERADMIN_EMAIL = "superadmin@e2e.saintara.id"
SUPERADMIN_PASSWORD = "e2e chromium passphrase"
USER_PASSWORD = "e2e user passphrase"
REDIS_DB_INDEX = int(os.environ.get("TEST_REDIS_E2E_DB", "12"))
E2E_VAPID_PRIVATE_KEY, E2E_VAPID_PUBLIC_KEY = new_key_pair()


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
def live_env(tmp_path_factory, smtp_server) -> dict:
    """Environment of the live server (and of CLI commands run against it).

    Its mail goes to the loopback SMTP server of ``smtp_server`` (aiosmtpd).
    """
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
        "SMTP_HOST": smtp_server.hostname,
        "SMTP_PORT": str(smtp_server.port),
        "SMTP_STARTTLS": "0",
        "MAIL_FROM": "Saintara Admin <portal@e2e.saintara.id>",
        # Web Push on (tests/e2e/test_push_flow.py delivers to a loopback receiver over plain HTTP).
        "VAPID_PRIVATE_KEY": E2E_VAPID_PRIVATE_KEY,
        "VAPID_SUBJECT": "mailto:security@e2e.saintara.id",
        "PUSH_ALLOW_HTTP_ENDPOINTS": "1",
        "PUSH_SERVICE_HOSTS": "127.0.0.1,localhost",  # the loopback push receiver
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
    # The server logs a JSON line per request: into a file, since a pipe nobody reads fills up and blocks it.
    log_path = Path(live_env["INSTANCE_PATH"]) / "live-server.log"
    log_file = open(log_path, "w")  # noqa: SIM115 (open for the server's whole life)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
        env={**live_env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"},
        stdout=log_file, stderr=subprocess.STDOUT, text=True,
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
                raise AssertionError("the live server did not start:\n" + log_path.read_text()) from None
            time.sleep(0.2)
    # The superadmin has no second factor and keeps the policy's grace period (7 days from its
    # creation). Sign-in leads to enrolment once a day in that period: this first sign-in takes
    # today's reminder, so the tests that sign in afterwards land on their page as before.
    assert http_sign_in(url, SUPERADMIN_EMAIL, SUPERADMIN_PASSWORD).startswith("/account/two-factor/required")
    yield url
    process.terminate()
    process.wait(timeout=30)
    log_file.close()


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    return live_server


@pytest.fixture
def sentry_live_server(live_env, live_server, tmp_path):
    """A second gunicorn on the live database with browser error reporting (and session replay, for
    people who may be recorded) to a loopback Sentry, through the portal's tunnel."""
    with EnvelopeServer() as envelopes:
        port = _free_port()
        log = open(tmp_path / "sentry-server.log", "w")  # noqa: SIM115 (open for the server's life)
        env = {**live_env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1",
               "SENTRY_BROWSER_DSN": envelopes.dsn, "SENTRY_ENVIRONMENT": "e2e", "SENTRY_RELEASE": "saintara@e2e"}
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(url + "/healthz", timeout=2).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError((tmp_path / "sentry-server.log").read_text()) from None
                    time.sleep(0.2)
            yield url, envelopes
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


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


def http_sign_in(base_url: str, email: str, password: str) -> str:
    """Sign in with plain HTTP (no browser); returns where the portal sends the user next."""
    import http.cookiejar
    import re
    import urllib.parse

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)
    with opener.open(base_url + "/login", timeout=10) as response:
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.read().decode()).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": password}).encode()
    try:
        opener.open(base_url + "/login", data=body, timeout=10)
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 302, redirect.code
        return redirect.headers["Location"]
    raise AssertionError("the sign-in did not redirect")


@pytest.fixture(scope="session")
def live_app(live_server, live_env):
    """An app in the test process on the live server's database and Redis, to arrange data directly."""
    from unittest import mock

    from app import create_app

    with mock.patch.dict(os.environ, {**live_env, "MAIL_BACKEND": "memory"}):
        application = create_app()
    yield application
    from app.extensions import db

    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def make_live_user(live_app):
    """Create an account on the live server: ``make_live_user(role, email=..., with_2fa=False)``."""
    import itertools

    from app.extensions import db
    from app.security.actor import Actor
    from app.users import services
    from app.users.models import Role

    counter = itertools.count(1)

    def factory(role="customer", *, email=None, password=USER_PASSWORD, display_name=None):
        role = Role(role)
        n = next(counter)
        with live_app.app_context():
            institution_id = None
            if role.needs_institution:
                from sqlalchemy import select

                from app.platform.models import Institution

                institution_id = db.session.scalar(select(Institution.id).order_by(Institution.id).limit(1))
            stamp = f"{os.getpid()}-{time.monotonic_ns()}-{n}"
            user = services.create_user(Actor.system("e2e"), email=email or f"{role.value}-{stamp}@e2e.saintara.id",
                                        display_name=display_name or f"E2E {role.label} {n}", role=role,
                                        institution_id=institution_id, password=password)
            db.session.commit()
            return {"id": user.id, "email": user.email, "password": password, "name": user.display_name}

    return factory


@pytest.fixture
def audit_entries(live_app):
    """``audit_entries(action, **filters)``: rows of the live server's audit log, oldest first,
    detached, with their sealed personal values revealed (app.personal_data.vault)."""
    from sqlalchemy import select

    from app.audit.models import AuditLog
    from app.extensions import db
    from app.personal_data import vault

    def query(action, **filters):
        with live_app.app_context():
            statement = select(AuditLog).where(AuditLog.action == action).filter_by(**filters).order_by(AuditLog.id)
            rows = db.session.scalars(statement).all()
            db.session.expunge_all()
            for row in rows:
                row.actor_email, row.impersonator_email = (vault.reveal(row.actor_email),
                                                           vault.reveal(row.impersonator_email))
                row.resource_repr, row.description = vault.reveal_text(row.resource_repr), vault.reveal_text(
                    row.description)
                row.changes = vault.reveal_json(row.changes)
            return rows

    return query
