"""The load test's smoke run: the production topology up, a few simulated people for 40 s, down.

scripts/load/stack.sh starts nginx (TLS) in front of two gunicorn instances on PostgreSQL and a
Redis of its own, with the jobs worker; the seed command makes the accounts; Locust (a master
and one worker process) runs every persona of scripts/load/locustfile.py through nginx. Any
failed request, or a decision lost or made twice in the database, fails the test; timing never
does. Needs nginx, redis-server and PostgreSQL (`make test` installs and starts them).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "scripts" / "load" / "stack.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def stack(tmp_path):
    missing = [tool for tool in ("nginx", "redis-server", "psql", "openssl", "curl") if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} missing: run `make nginx services`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    env = {**os.environ, "LOAD_RUN_DIR": str(tmp_path / "stack"),
           "LOAD_DATABASE": os.environ.get("LOAD_SMOKE_DATABASE", f"saintara_test_load_smoke_{os.getpid()}"),
           "LOAD_HTTPS_PORT": str(free_port()), "LOAD_WEB_PORTS": f"{free_port()} {free_port()}",
           "LOAD_REDIS_PORT": str(free_port()), "LOAD_WEB_CONCURRENCY": "2"}
    try:
        up = subprocess.run([str(STACK), "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr + _logs(tmp_path / "stack")
        seed = subprocess.run([str(STACK), "seed", "--users", "10", "--approvals", "300", "--small"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert seed.returncode == 0, seed.stdout + seed.stderr
        yield env
    finally:
        subprocess.run([str(STACK), "down", "--drop"], cwd=ROOT, env=env, capture_output=True, timeout=120)


def _logs(run_dir: Path) -> str:
    return "".join(f"\n--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted((run_dir / "logs").glob("*.log")))


def test_every_persona_runs_through_nginx_without_a_single_error(stack, tmp_path):
    out = tmp_path / "smoke"
    result = subprocess.run([sys.executable, "-m", "scripts.load.run", "smoke", "--out", str(out), "--users", "10",
                             "--seconds", "40", "--workers", "1"], cwd=ROOT, env=stack, capture_output=True,
                            text=True, timeout=240)
    log = (out / "locust.log").read_text() if (out / "locust.log").exists() else ""
    assert (out / "results.json").exists(), result.stdout + result.stderr + log
    results = json.loads((out / "results.json").read_text())
    assert results["failures"] == [], results["failures"]
    assert results["exceptions"] == [], results["exceptions"]
    assert results["summary"]["errors"] == 0
    # Every kind of request went through: pages, the API by cursor, sign-ins with a code.
    for kind in ("page", "api", "sign-in"):
        assert results["summary"][kind]["requests"] > 0, (kind, results["summary"])
    assert results["database_check"]["ok"], results["database_check"]
    assert result.returncode == 0, result.stdout + result.stderr + log
    assert (out / "report.html").stat().st_size > 0
