"""The installable portal: serving /sw.js, and sending one push per device.

    .venv/bin/python scripts/bench/pwa.py [--requests 300] [--pushes 300] [--no-write]

Runs on the embedded default (an SQLite file in a temporary folder, no PostgreSQL, no Redis);
timed phases hold /tmp/saintara-bench.lock. Writes its section of docs/PERFORMANCE.md.

1. ``GET /sw.js`` through the whole portal (test client): ours, the precache list and its
   version built once per process, against the naive way, rebuilt on every request (hashing
   every static file and rendering the offline pages, which is what debug mode does).
   Requests interleaved in pairs; median and p95 of each.
2. Push delivery to a loopback push service (HTTP/1.1 keep-alive, answers 201): ours, one
   VAPID key and one HTTP session for a job's devices, against pywebpush's default, the key
   parsed and a new connection made for every device. Each push is encrypted for its own
   device (aes128gcm) and carries a fresh VAPID token either way.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from common import ROOT, LoadRecorder, bench_lock, median, percentile, replace_section

HEADING = "Installable portal and Web Push (issue 16)"


def make_app(folder: str):
    from app import create_app, vapid
    from app.config import TEST_CONFIG
    from app.extensions import db

    private, public = vapid.new_key_pair()
    app = create_app({**TEST_CONFIG, "INSTANCE_PATH": folder, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/b.db",
                      "EMBEDDED_DATABASE": True, "REDIS_URL": None, "VAPID_PRIVATE_KEY": private,
                      "VAPID_PUBLIC_KEY": public, "VAPID_SUBJECT": "mailto:bench@saintara.example",
                      "PUSH_ALLOW_HTTP_ENDPOINTS": True, "PUSH_SERVICE_HOSTS": ("127.0.0.1",)})
    with app.app_context():
        db.create_all()
    return app


def time_worker(app, pairs: int, load: LoadRecorder) -> dict:
    client = app.test_client()
    ours, naive = [], []

    def one(debug: bool) -> float:
        app.debug = debug  # the route rebuilds the precache in debug mode: the naive way
        started = time.perf_counter()
        response = client.get("/sw.js")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200
        return elapsed * 1000

    one(False)
    one(True)  # warm both paths
    load.sample()
    for _ in range(pairs):
        ours.append(one(False))
        naive.append(one(True))
    load.sample()
    app.debug = False
    return {"ours": ours, "naive": naive}


class Receiver:
    def __init__(self):
        # Imported here: only once common has moved this folder (its http.py) behind the standard library.
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real push services

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def endpoint(self, n: int) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/push/{n}"


def time_push(app, pushes: int, load: LoadRecorder) -> dict:
    import requests

    from app.push import sending
    from tests.push_receiver import Device

    receiver = Receiver()
    devices = [(receiver.endpoint(n), Device()) for n in range(pushes)]
    message = {"title": "Approval waiting", "body": "Approval request #7 has been waiting for more than 4 hours.",
               "url": "/approvals/7", "tag": "approval-7"}
    results = {}
    with app.app_context():
        for name in ("naive", "ours", "naive", "ours"):  # twice each, alternating; the second round counts
            per_push = []
            key, session = (sending.server_key(), requests.Session()) if name == "ours" else (None, None)
            load.sample()
            started = time.perf_counter()
            for endpoint, device in devices:
                one = time.perf_counter()
                delivery = sending.deliver(endpoint, device.p256dh, device.auth_b64, message, key=key,
                                           session=session)
                per_push.append((time.perf_counter() - one) * 1000)
                assert delivery.outcome == "sent", delivery
            total = time.perf_counter() - started
            load.sample()
            if session is not None:
                session.close()
            results[name] = {"per_push": per_push, "rate": pushes / total}
    receiver.server.shutdown()
    return results


def row(label: str, figures: tuple) -> str:
    ours, ours_p95, naive, naive_p95 = figures
    return (f"| {label} | {ours:.2f} ms | {ours_p95:.2f} ms | {naive:.2f} ms | {naive_p95:.2f} ms "
            f"| {naive / ours:.1f}× |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--pushes", type=int, default=300)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load = LoadRecorder()
    with tempfile.TemporaryDirectory(prefix="saintara-bench-pwa-") as folder:
        app = make_app(folder)
        with bench_lock():
            started = datetime.now(UTC)
            worker = time_worker(app, args.requests, load)
            push = time_push(app, args.pushes, load)
            finished = datetime.now(UTC)
    static_files = sum(1 for p in Path(app.static_folder).rglob("*") if p.is_file())
    rows = {
        "worker": (median(worker["ours"]), percentile(worker["ours"], 0.95), median(worker["naive"]),
                   percentile(worker["naive"], 0.95)),
        "push": (median(push["ours"]["per_push"]), percentile(push["ours"]["per_push"], 0.95),
                 median(push["naive"]["per_push"]), percentile(push["naive"]["per_push"], 0.95)),
    }
    cpu = os.cpu_count()
    section = f"""## {HEADING}

`scripts/bench/pwa.py` ([PWA.md](PWA.md)) on the embedded default (SQLite, no Redis), through
the test client; timed phases hold `/tmp/saintara-bench.lock`. Last run {started:%-d %B %Y, %H:%M}–{finished:%H:%M}
UTC on {cpu} cores shared with other engineers' suites: 1-minute load average {load.summary()}.

| what | ours: median | ours: p95 | naive: median | naive: p95 | naive ÷ ours (median) |
| --- | ---: | ---: | ---: | ---: | ---: |
{row(f"`GET /sw.js` ({args.requests} pairs; {static_files} files under `static/`)", rows["worker"])}
{row(f"one push to a loopback push service ({args.pushes} devices)", rows["push"])}

- `/sw.js`, ours: the precache list and version built once per process. Naive: rebuilt on
  every request (SHA-256 of every static file, the offline pages rendered), which is what debug
  mode still does so that an edited file shows at once.
- Push, ours: the `push.notify` job's way, one VAPID key and one kept-alive HTTP session per
  job: {push["ours"]["rate"]:,.0f} pushes/s. Naive: pywebpush's default, the key parsed and a
  new connection for every device: {push["naive"]["rate"]:,.0f} pushes/s. Each push is encrypted
  for its own device and signed with a fresh VAPID token either way. A real push service is
  farther away than a loopback one, so keeping the connection saves more there (a TLS handshake
  per device).
"""
    print(section)
    if not args.no_write:
        replace_section(ROOT / "docs" / "PERFORMANCE.md", HEADING, section)
        print("wrote docs/PERFORMANCE.md")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
