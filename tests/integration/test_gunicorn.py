"""gunicorn serves the portal with production settings on PostgreSQL and Redis."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_env(pg_url: str, redis_url: str, tmp_path, port: int) -> dict:
    return {
        "PATH": os.environ["PATH"],
        "APP_ENV": "production",
        "SECRET_KEY": "gunicorn-test-" + Fernet.generate_key().decode(),
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": pg_url.replace("postgresql+psycopg2://", "postgresql://"),
        "REDIS_URL": redis_url,
        "INSTANCE_PATH": str(tmp_path),
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
    }


def gunicorn(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def fetch(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def wait_for(url: str, process: subprocess.Popen, timeout: float = 30.0) -> tuple[int, dict, bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("gunicorn exited:\n" + process.stdout.read())
        try:
            return fetch(url)
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def test_gunicorn_serves_readyz_on_postgres_and_redis(app, pg_url, redis_url, tmp_path):
    port = free_port()
    process = gunicorn(production_env(pg_url, redis_url, tmp_path, port))
    try:
        status, _headers, raw = wait_for(f"http://127.0.0.1:{port}/readyz", process)
        body = json.loads(raw)
        assert status == 200, body
        assert body["checks"]["database"]["backend"] == "postgresql"
        assert body["checks"]["redis"] == {**body["checks"]["redis"], "status": "ok", "backend": "redis"}
        status, headers, _ = fetch(f"http://127.0.0.1:{port}/login")
        assert status == 200
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        assert "Secure" in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()


def test_gunicorn_refuses_an_unsafe_configuration_in_one_line(pg_url, redis_url, tmp_path):
    env = production_env(pg_url, redis_url, tmp_path, free_port())
    env["SECRET_KEY"] = "changeme"
    process = gunicorn(env)
    with process:
        output, _ = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "Configuration error: SECRET_KEY is weak: use at least 32 random characters" in output
