"""Metrics under gunicorn: counts add up across workers, and a real Prometheus scrapes them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.served import serve
from tests.integration.test_gunicorn import fetch, free_port, production_env

pytestmark = pytest.mark.integration
METRICS_TOKEN = "gunicorn-metrics-test-token-0123456789abcdef"
REQUESTS = 120


@pytest.fixture
def served(app, pg_url, redis_url, tmp_path):
    """gunicorn with 2 workers on this run's database and Redis, metrics in a directory we can see."""
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "stale_counter_1.db").write_bytes(b"left over by an earlier start")
    env = {**production_env(pg_url, redis_url, tmp_path, port), "METRICS_TOKEN": METRICS_TOKEN,
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    with serve(env, tmp_path / "gunicorn.log") as url:
        yield url, metrics_dir


def scrape(url: str) -> dict[tuple, float]:
    request = urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(v for (n, lbls), v in samples.items() if n == name and wanted <= set(lbls))


def test_counts_add_up_across_two_workers(served):
    url, metrics_dir = served
    assert not (metrics_dir / "stale_counter_1.db").exists()  # each start begins empty
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _n: fetch(url + "/readyz")[0], range(REQUESTS)))
    assert statuses == [200] * REQUESTS
    pids = {re.search(r"_(\d+)\.db$", name).group(1) for name in os.listdir(metrics_dir) if name.startswith("counter_")}
    assert len(pids) == 2, f"both workers should have answered: {sorted(os.listdir(metrics_dir))}"
    for _ in range(3):  # any worker answers the scrape, and every answer has the same sum
        samples = scrape(url)
        assert value(samples, "saintara_http_requests_total", route="/readyz", status="200") == REQUESTS
        assert value(samples, "saintara_http_request_duration_seconds_count", route="/readyz") == REQUESTS
    assert value(samples, "saintara_admins_two_factor_ratio") >= 0  # domain gauges come along


def test_the_metrics_page_refuses_scrapers_without_the_token(served):
    url, _metrics_dir = served
    assert fetch(url + "/metrics")[0] == 401
    request = urllib.request.Request(url + "/metrics", headers={"Authorization": "Bearer wrong"})
    try:
        urllib.request.urlopen(request, timeout=5)
    except urllib.error.HTTPError as refused:
        assert refused.code == 403
    else:
        raise AssertionError("a wrong token was accepted")


def test_a_real_prometheus_scrapes_the_portal(served, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed; run `make prometheus` (or `make test`)", pytrace=False)
    url, _metrics_dir = served
    for _ in range(7):
        fetch(url + "/healthz")
    (tmp_path / "token").write_text(METRICS_TOKEN)
    (tmp_path / "prometheus.yml").write_text(f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: saintara
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: {tmp_path / "token"}
    static_configs:
      - targets: ["{url.removeprefix('http://')}"]
""")
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    api = f"http://127.0.0.1:{port}/api/v1/query?"
    try:
        deadline, result = time.monotonic() + 60, []
        query = 'sum(saintara_http_requests_total{job="saintara",route="/healthz"})'
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError("prometheus exited:\n" + process.stdout.read())
            try:
                with urllib.request.urlopen(api + urllib.parse.urlencode({"query": query}), timeout=5) as response:
                    body = json.loads(response.read())
                result = body["data"]["result"]
                if result and float(result[0]["value"][1]) >= 7:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert result and float(result[0]["value"][1]) >= 7, f"Prometheus did not get the portal's metrics: {result}"
        with urllib.request.urlopen(api + urllib.parse.urlencode({"query": 'up{job="saintara"}'}), timeout=5) as r:
            assert json.loads(r.read())["data"]["result"][0]["value"][1] == "1"
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
