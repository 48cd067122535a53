"""Stopping Redis leaves the portal serving (gunicorn, PostgreSQL, a Redis server of the test's own).

The shared Redis of this machine is never touched: the test starts ``redis-server`` on a
free loopback port, stops it mid-test and starts it again.
"""

from __future__ import annotations

import http.cookiejar
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.served import seeded_database, serve
from tests.integration.test_gunicorn import free_port, production_env

pytestmark = pytest.mark.integration
METRICS_TOKEN = "outage-test-metrics-token-0123456789abcdef"


class OwnRedis:
    """A redis-server of this test's own on a loopback port (nothing kept on disk)."""

    def __init__(self, port: int):
        self.port, self.process = port, None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("the test's redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Plain HTTP with cookies and no redirects followed."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  NoRedirect)

    def open(self, path: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as answer:
            with answer:
                return answer.code, answer.headers, answer.read().decode()

    def sign_in(self, email: str, password: str) -> int:
        _status, _headers, page = self.open("/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, headers, _ = self.open("/login", {"csrf_token": token, "email": email, "password": password})
        return status


@pytest.fixture
def outage_setup(tmp_path):
    """A database and a Redis server of its own (the suite's Redis is never stopped)."""
    redis_server = OwnRedis(free_port())
    redis_server.start()
    redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
    try:
        with seeded_database("saintara_test_outage", redis_url, tmp_path) as seeded:
            yield {**seeded, "redis": redis_server, "redis_url": redis_url}
    finally:
        redis_server.stop()


def metric(base: str, name: str, **labels) -> float:
    request = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and set(labels.items()) <= set(sample.labels.items()))


def test_stopping_redis_leaves_the_portal_serving(outage_setup, tmp_path):
    port = free_port()
    env = {**production_env(outage_setup["database_url"], outage_setup["redis_url"], tmp_path, port),
           "METRICS_TOKEN": METRICS_TOKEN, "RATELIMIT_RETRY_SECONDS": "1", "ARGON2_MEMORY_COST": "8192",
           "APP_ENV": "development",  # plain HTTP here: production cookies are Secure-only
           "ENCRYPTION_KEY": outage_setup["env"]["ENCRYPTION_KEY"]}  # it wrapped the seeded people's keys
    api = {"Authorization": f"Bearer {outage_setup['token']}"}
    with serve(env, tmp_path / "gunicorn.log") as base:
        browser = Browser(base)
        assert browser.sign_in(outage_setup["email"], outage_setup["password"]) == 302
        assert browser.open("/dashboard")[0] == 200
        status, headers, _ = browser.open("/api/v1/transactions", headers=api)
        assert status == 200 and headers["X-RateLimit-Limit"] == "600"

        outage_setup["redis"].stop()

        status, headers, _ = browser.open("/dashboard")
        assert status == 302 and headers["Location"].startswith("/login")  # signed out for now, not a 500
        status, _headers, page = browser.open("/login")
        assert status == 200 and 'data-testid="session-store-down"' in page
        assert browser.open("/healthz")[0] == 200
        status, _headers, body = browser.open("/readyz")
        assert status == 503 and '"redis"' in body
        status, headers, body = browser.open("/api/v1/transactions", headers=api)
        assert status == 200 and "TRX-PLATFORM-1" in body and "X-RateLimit-Limit" not in headers  # let through
        status, _headers, body = browser.open(f"/api/v1/transactions/{outage_setup['transaction_id']}/approve",
                                              data={}, headers=api)
        assert status == 200 and '"approved"' in body  # writes work: the database is up

        # Sign-in posts keep a limit: per process (2 workers, 30 each) instead of shared.
        statuses = [Browser(base).open("/login", {"email": "x"})[0] for _ in range(70)]
        assert set(statuses) <= {400, 429} and statuses.count(400) <= 60 and 429 in statuses
        assert metric(base, "saintara_ratelimit_fallbacks_total", limit="sign-in-per-ip", action="per_process") >= 70
        assert metric(base, "saintara_ratelimit_fallbacks_total", limit="api-per-token", action="let_through") >= 2
        assert metric(base, "saintara_cache_requests_total", cache="api", result="error") >= 1

        outage_setup["redis"].start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status, headers, _ = browser.open("/api/v1/transactions", headers=api)
            if "X-RateLimit-Limit" in headers:
                break
            time.sleep(0.3)
        assert status == 200 and "X-RateLimit-Limit" in headers, "limits did not come back with Redis"
        time.sleep(1.2)  # every worker has asked Redis again by now (RATELIMIT_RETRY_SECONDS=1)
        assert browser.sign_in(outage_setup["email"], outage_setup["password"]) == 302
        assert browser.open("/dashboard")[0] == 200
        assert browser.open("/readyz")[0] == 200
