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
the ratios to the bare page, and the load average. Redis: only db TEST_REDIS_DB (default 9) is used.
"""

from __future__ import annotations

import os
import sys

# This file is called http.py: the standard library's http package must win over it.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
import http.client  # noqa: E402
import urllib.parse  # noqa: E402

sys.path.append(_HERE)
import argparse  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from common import ROOT, bench_database, percentile  # noqa: E402

DATABASE = "saintara_bench_http"
REDIS_DB = os.environ.get("TEST_REDIS_DB", "9")
EMAIL, PASSWORD = "bench.admin@example.com", "bench http passphrase 2026"  # noqa: S105 (scratch database)
TOTP_SECRET = "JBSWY3DPEHPK3PXPBENCHHTTP234567A"  # noqa: S105 (the bench admin's authenticator, scratch database)
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


ADMIN_SCRIPT = """
from app import create_app
from app.auth.models import TotpCredential
from app.database import utcnow
from app.extensions import db
from app.security.actor import Actor
from app.users import services
from app.users.models import Role
import os
with create_app().app_context():
    user = services.create_user(Actor.system("bench"), email=os.environ["BENCH_EMAIL"], display_name="Bench Admin",
                                role=Role.ADMIN, password=os.environ["BENCH_PASSWORD"])
    db.session.add(TotpCredential(user_id=user.id, secret=os.environ["BENCH_TOTP"], confirmed_at=utcnow()))
    db.session.commit()
"""


def prepare(env: dict) -> None:
    """Migrations, the demo data, and an admin with an authenticator app (as admins are required to have)."""
    flask(env, "db", "upgrade")
    flask(env, "seed-demo")
    result = subprocess.run([sys.executable, "-c", ADMIN_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                            env={**env, "BENCH_PASSWORD": PASSWORD, "BENCH_TOTP": TOTP_SECRET}, timeout=120)
    if result.returncode:
        raise SystemExit(result.stdout + result.stderr)


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


_last_step = {"step": 0}


def next_code() -> str:
    """The authenticator code of the earliest step the server still accepts (each is accepted once)."""
    import pyotp

    while True:
        now = int(time.time() // 30)
        step = max(_last_step["step"] + 1, now - 1)
        if step <= now + 1:
            _last_step["step"] = step
            return pyotp.TOTP(TOTP_SECRET).generate_otp(step)
        time.sleep(1)


def sign_in(port: int) -> str:
    """A session cookie of the bench admin, through the real sign-in form and its second step."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def send(method: str, path: str, cookie: str, fields: dict | None = None):
        body = urllib.parse.urlencode(fields) if fields else None
        headers = {"Cookie": cookie, **({"Content-Type": "application/x-www-form-urlencoded"} if body else {})}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        page = response.read().decode()
        set_cookie = response.getheader("Set-Cookie")
        return response.status, page, set_cookie.split(";", 1)[0] if set_cookie else cookie

    _status, page, cookie = send("GET", "/login", "")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    status, _page, cookie = send("POST", "/login", cookie, {"csrf_token": token, "email": EMAIL, "password": PASSWORD})
    assert status == 302, status
    _status, page, cookie = send("GET", "/login/two-factor", cookie)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    status, _page, cookie = send("POST", "/login/two-factor", cookie, {"csrf_token": token, "code": next_code()})
    assert status == 302, f"second step refused ({status})"
    return cookie


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
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    with bench_database(DATABASE, keep=args.keep) as (url, _reused), tempfile.TemporaryDirectory() as tmp:
        env = environment(url, Path(tmp))
        print("preparing: migrations, demo data (10,000 transactions), an admin", flush=True)
        prepare(env)
        results: dict[str, list[tuple[float, list[float]]]] = {v: [] for v in VARIANTS}
        for round_number in range(args.rounds):
            order = VARIANTS[round_number % len(VARIANTS):] + VARIANTS[:round_number % len(VARIANTS)]
            for variant in order:
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
              f"{args.rounds} rounds x {args.seconds:.0f} s per variant")
        print(f"{'variant':16s}{'req/s (median)':>16s}{'p50 ms':>9s}{'p95 ms':>9s}{'vs bare*':>10s}")
        for variant in VARIANTS:
            rate = statistics.median(r for r, _ in results[variant])
            latencies = [x for _, lats in results[variant] for x in lats]
            ratio = statistics.median(r / b for (r, _), (b, _) in zip(results[variant], results["bare"], strict=True))
            print(f"{variant:16s}{rate:16.1f}{statistics.median(latencies) * 1000:9.1f}"
                  f"{percentile(latencies, 0.95) * 1000:9.1f}{ratio:10.0%}")
        print("* the median over the rounds of (variant / bare) measured in the same round")
        full = statistics.median(r / b for (r, _), (b, _) in zip(results["full"], results["bare"], strict=True))
        print(f"\nfull stack keeps {full:.0%} of the bare page's throughput (target: at least 75%); "
              f"load average {os.getloadavg()[0]:.1f}")
        limiter_overhead(env)


LIMITER_SCRIPT = """
import os, statistics, time
from app import create_app
from app.extensions import limiter
from app.security import limiting
from app.security.ratelimits import SIGN_IN_POSTS
app = create_app({"RATELIMIT_HEADERS_ENABLED": True})
N = 2000
def timed(call):
    times = []
    for n in range(N):
        started = time.perf_counter()
        call(n)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6, sorted(times)[int(0.95 * N)] * 1e6
with app.test_request_context("/login", method="POST"):
    ours = timed(lambda n: limiting.count(SIGN_IN_POSTS, who=f"bench-{n % 50}"))
    item = SIGN_IN_POSTS.item()
    def flask_limiter_default(n):  # what its decorator does per request: hit, then window stats for the headers
        limiter.limiter.hit(item, "bench", f"bench-{n % 50}", "login")
        limiter.limiter.get_window_stats(item, "bench", f"bench-{n % 50}", "login")
    theirs = timed(flask_limiter_default)
print(f"{ours[0]:.0f} {ours[1]:.0f} {theirs[0]:.0f} {theirs[1]:.0f}")
"""


def limiter_overhead(env: dict) -> None:
    """Per-request cost of one limit check on Redis: ours against Flask-Limiter's default."""
    result = subprocess.run([sys.executable, "-c", LIMITER_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    if result.returncode:
        raise SystemExit(result.stdout + result.stderr)
    ours_p50, ours_p95, theirs_p50, theirs_p95 = (float(x) for x in result.stdout.split()[-4:])
    print("\none rate-limit check on Redis, in-process, median / p95 of 2,000 (microseconds):")
    print(f"  ours (one round trip: INCR with expiry, headers from the count)  {ours_p50:6.0f} / {ours_p95:6.0f}")
    print(f"  Flask-Limiter's default (hit, then window stats for the headers) {theirs_p50:6.0f} / {theirs_p95:6.0f}")

if __name__ == "__main__":
    main()
