"""Schemathesis runs against the API's own OpenAPI document on a live server: no server
errors, and every answer (status, content type, headers, body) as documented.

Every check runs, ``positive_data_acceptance`` included: each request that fits the schema
must be accepted (2xx, or 401/403/404/409/429, which no schema can rule out). The rules a
schema cannot state are handled where they belong: a rejection's reason is described by a
pattern (three characters besides spaces, no control characters), and cursors, which are
opaque, are replaced in positive cases by real ones from the server
(tests/integration/schemathesis_hooks.py). Requests that break the schema, forged cursors
among them, must still be refused (``negative_data_rejection``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.served import seeded_database, serve
from tests.integration.test_gunicorn import free_port

pytestmark = pytest.mark.integration


def test_schemathesis_finds_no_server_errors_and_no_undocumented_answers(redis_url, tmp_path):
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is not installed (requirements-dev.txt)"
    with seeded_database("saintara_test_api", redis_url, tmp_path) as seeded:
        port = free_port()
        env = {**seeded["env"], "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}
        with serve(env, tmp_path / "gunicorn.log") as url:
            result = subprocess.run(
                [st, "run", f"{url}/api/v1/openapi.json", "--header", f"Authorization: Bearer {seeded['token']}",
                 "--checks", "all",
                 "--max-examples", "12", "--seed", "7", "--workers", "2", "--no-color",
                 "--rate-limit", "550/m",  # under the token's 600 a minute: every answer is a real one
                 "--request-timeout", "20", "--generation-database", "none",
                 "--report", "junit", "--report-dir", str(tmp_path / "report")],
                capture_output=True, text=True, timeout=600, cwd=tmp_path,  # its caches stay out of the repository
                env={**os.environ, "SCHEMATHESIS_HOOKS": str(Path(__file__).with_name("schemathesis_hooks.py")),
                     "SWEEP_API_URL": url, "SWEEP_API_TOKEN": seeded["token"],
                     "SWEEP_REAL_IDS": json.dumps({"customer_id": seeded["customer_id"],
                                                   "request_id": seeded["privacy_request_id"]})})
            output = result.stdout + result.stderr
            (tmp_path.parent / "schemathesis-output.txt").write_text(output)
            assert result.returncode == 0, output[-15000:]
            log = (tmp_path / "gunicorn.log").read_text()
            assert '"status": 500' not in log and "Traceback" not in log, "the server logged an error"
