"""gunicorn serves the portal with production settings on PostgreSQL and Redis."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
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


def control_stats(path: Path, process: subprocess.Popen, timeout: float = 30.0) -> dict:
    """``show stats`` through an instance's control socket (it opens shortly after the master starts)."""
    from gunicorn.ctl.client import ControlClient, ControlClientError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited:\n" + process.stdout.read()
        if path.exists():
            try:
                with ControlClient(str(path), timeout=5) as client:
                    return client.send_command("show stats")
            except (ControlClientError, OSError):
                pass
        time.sleep(0.2)
    raise AssertionError(f"no control socket answered at {path}")


def test_two_instances_on_one_host_have_a_control_socket_each(pg_url, redis_url, tmp_path):
    # A socket path must fit in 107 bytes: a worker's tmp_path (…/popen-gw0/test_two_…0/) is too deep.
    runtime = Path(tempfile.mkdtemp(prefix="xdg-"))
    runtime.chmod(0o700)
    ports = [free_port(), free_port()]
    processes = []
    try:
        for n, port in enumerate(ports):
            env = {**production_env(pg_url, redis_url, tmp_path / f"i{n}", port), "WEB_CONCURRENCY": "1",
                   "XDG_RUNTIME_DIR": str(runtime)}
            processes.append(gunicorn(env))
        for port, process in zip(ports, processes, strict=True):
            assert wait_for(f"http://127.0.0.1:{port}/healthz", process)[0] == 200
        sockets = [runtime / "saintara-gunicorn" / f"127.0.0.1_{port}.ctl" for port in ports]
        for path, process in zip(sockets, processes, strict=True):
            assert control_stats(path, process)["pid"] == process.pid  # each socket reaches its own master
        assert not (runtime / "gunicorn.ctl").exists()  # gunicorn's shared default is not used

        processes[0].terminate()
        processes[0].wait(timeout=30)
        assert not sockets[0].exists()
        assert control_stats(sockets[1], processes[1])["pid"] == processes[1].pid  # the other keeps its own
        assert fetch(f"http://127.0.0.1:{ports[1]}/healthz")[0] == 200
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
            process.stdout.close()
        shutil.rmtree(runtime, ignore_errors=True)


def test_the_control_socket_can_be_named_or_switched_off(pg_url, redis_url, tmp_path):
    named = tmp_path / "portal.ctl"
    port = free_port()
    env = {**production_env(pg_url, redis_url, tmp_path, port), "WEB_CONCURRENCY": "1",
           "XDG_RUNTIME_DIR": str(tmp_path), "GUNICORN_CONTROL_SOCKET": str(named)}
    process = gunicorn(env)
    try:
        assert control_stats(named, process)["pid"] == process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()

    env = {**env, "GUNICORN_CONTROL_SOCKET": "off", "LOG_LEVEL": "debug", "BIND": f"127.0.0.1:{free_port()}"}
    process = gunicorn(env)
    try:
        seen = ""
        for line in process.stdout:  # the master says so right after starting its workers
            seen += line
            if "Control socket disabled" in line:
                break
        assert "Control socket disabled" in seen, seen[-3000:]
        assert not list(tmp_path.rglob("*.ctl"))
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
