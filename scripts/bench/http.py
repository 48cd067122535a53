"""HTTP throughput of a 50-row list page: the portal's full stack against a bare Flask route.

    .venv/bin/python scripts/bench/http.py [--seconds 8] [--rounds 3] [--clients 4] [--keep]

Makes the database saintara_bench_http (dropped afterwards unless --keep), loads the demo
data (10,000 transactions) and an admin, then serves the transaction list (50 rows) with
gunicorn (2 workers) on PostgreSQL and Redis, one variant at a time
(scripts/bench/http_variants.py):

* full          the portal as deployed (session in Redis, rate limits, metrics, JSON request
                log, request id, CSP, access checks, CSRF, transaction boundary);
* nolimit       the same without the portal's rate limiting;
* flask-limiter the portal's limiting replaced by Flask-Limiter's default setup;
* bare          the same view and template called by a bare route with none of it.

Each variant runs ``--rounds`` rounds of ``--seconds`` with ``--clients`` keep-alive
connections (after a warm-up); the rounds alternate between variants, so drift on this
shared machine hits them alike. Prints requests/s (median of the rounds) and p95 latency,
and the ratios to the bare page. Redis: only db TEST_REDIS_DB (default 9) is used.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from common import ROOT, bench_database, percentile

DATABASE = "saintara_bench_http"
REDIS_DB = os.environ.get("TEST_REDIS_DB", "9")
EMAIL, PASSWORD = "bench.admin@example.com", "bench http passphrase 2026"  # noqa: S105 (scratch database)
PAGE = "/transactions"
VARIANTS = ("bare", "full", "nolimit", "flask-limiter")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(database_url: str, instance: Path) -> dict:
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    return {"PATH": os.environ["PATH"], "APP_ENV": "development", "INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url.replace("postgresql+psycopg2://", "postgresql://"), "REDIS_URL": redis_url,
            "SECRET_KEY": "bench-http-secret-key-0123456789abcdefghij", "BENCH_EMAIL": EMAIL,
            "ARGON2_MEMORY_COST": "8192", "PYTHONPATH": str(ROOT)}


def flask(env: dict, *args: str, extra: dict | None = None) -> None:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                            env={**env, **(extra or {})}, capture_output=True, text=True, timeout=600)
    if result.returncode:
        raise SystemExit(result.stdout + result.stderr)


def prepare(env: dict) -> None:
    flask(env, "db", "upgrade")
    flask(env, "seed-demo")
    flask(env, "users", "create-superadmin", "--email", EMAIL, "--name", "Bench Admin",
          extra={"ADMIN_PASSWORD": PASSWORD})


class Server:
    """gunicorn (2 workers) serving one variant; its output goes to a file."""

    def __init__(self, env: dict, variant: str, log_dir: Path):
        self.port = free_port()
        self.log = open(log_dir / f"{variant}.log", "w")  # noqa: SIM115 (open while the server runs)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "scripts.bench.http_variants:app"],
            cwd=ROOT, env={**env, "BENCH_VARIANT": variant, "BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": "2",
                           "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix=f"bench-{variant}-")},
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the {variant} server did not start: see {self.log.name}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def sign_in(port: int) -> str:
    """A session cookie of the bench admin (through the real sign-in form)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "email": EMAIL, "password": PASSWORD})
    connection.request("POST", "/login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    response = connection.getresponse()
    response.read()
    assert response.status == 302, response.status
    return response.getheader("Set-Cookie").split(";", 1)[0]


def load(port: int, cookie: str | None, seconds: float, clients: int) -> list[float]:
    """Latencies (s) of the requests ``clients`` keep-alive connections completed in ``seconds``."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    headers = {"Cookie": cookie} if cookie else {}

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            connection.request("GET", PAGE, headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200 or b"transaction-table" not in body:
                raise SystemExit(f"unexpected answer {response.status} on port {port}")
            mine.append(time.perf_counter() - started)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    with bench_database(DATABASE, keep=args.keep) as (url, _reused), tempfile.TemporaryDirectory() as tmp:
        env = environment(url, Path(tmp))
        print("preparing: migrations, demo data (10,000 transactions), an admin", flush=True)
        prepare(env)
        results: dict[str, list[tuple[float, list[float]]]] = {v: [] for v in VARIANTS}
        for round_number in range(args.rounds):
            for variant in VARIANTS:
                server = Server(env, variant, Path(tmp))
                try:
                    cookie = None if variant == "bare" else sign_in(server.port)
                    load(server.port, cookie, 1.5, args.clients)  # warm-up: both workers, caches, pools
                    latencies = load(server.port, cookie, args.seconds, args.clients)
                finally:
                    server.stop()
                results[variant].append((len(latencies) / args.seconds, latencies))
                print(f"  round {round_number + 1} {variant:14s} {len(latencies) / args.seconds:7.1f} req/s",
                      flush=True)

        print(f"\n{PAGE} (50 rows), gunicorn 2 workers, {args.clients} keep-alive clients, "
              f"{args.rounds} x {args.seconds:.0f} s per variant")
        print(f"{'variant':16s}{'req/s (median)':>16s}{'p50 ms':>9s}{'p95 ms':>9s}{'vs bare':>9s}")
        bare = statistics.median(rate for rate, _ in results["bare"])
        for variant in VARIANTS:
            rate = statistics.median(r for r, _ in results[variant])
            latencies = [x for _, lats in results[variant] for x in lats]
            print(f"{variant:16s}{rate:16.1f}{statistics.median(latencies) * 1000:9.1f}"
                  f"{percentile(latencies, 0.95) * 1000:9.1f}{rate / bare:9.0%}")
        full = statistics.median(r for r, _ in results["full"])
        nolimit = statistics.median(r for r, _ in results["nolimit"])
        print(f"\nfull stack keeps {full / bare:.0%} of the bare page's throughput (target: at least 75%)")
        print(f"rate limiting costs {(1 / full - 1 / nolimit) * 1000 * 2:.2f} ms of worker time per request "
              f"({1 - full / nolimit:.1%} of throughput; 2 workers)")


if __name__ == "__main__":
    main()
