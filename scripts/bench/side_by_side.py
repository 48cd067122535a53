"""Time pages of a kept benchmark database with the app of the checkout this is run *from*, so
that two versions of the code can be timed on one database in the same minutes.

    git worktree add /tmp/before <commit>
    .venv/bin/python scripts/bench/audit.py --rows 10000000 --reuse --urls-out /tmp/urls.json
    (cd /tmp/before && /path/to/.venv/bin/python /path/to/scripts/bench/side_by_side.py \\
        --database saintara_bench_audit --urls /tmp/urls.json)
    .venv/bin/python scripts/bench/side_by_side.py --database saintara_bench_audit --urls /tmp/urls.json

``--urls`` is a JSON object: view name -> URLs (taken in turn); ``--uncached`` empties the cache
before every request (the dashboard's "nothing cached"); ``--unrevealed`` shows sealed values as
stored (this checkout's scripts/bench/common.py must have ``unrevealed``). Signs in with
``--email``/``--password`` (the benchmark scripts' accounts). Prints p50/p95 per view in ms.
Requests go through the test client: routing, session, queries, template, response.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

# The checkout being timed (the working directory) first, not this file's folder: scripts/bench
# holds an http.py that would hide the standard library's; its common.py is looked up last.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [os.getcwd(), *(p for p in sys.path if p and Path(p).resolve() != _HERE),
               os.path.join(os.getcwd(), "scripts", "bench")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--urls", required=True, help="JSON: view name -> list of URLs")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per view")
    parser.add_argument("--email", default="perf.runner@example.com")
    parser.add_argument("--password", default="quiet orange lantern drifting north")
    parser.add_argument("--uncached", action="store_true", help="empty the cache before every request")
    parser.add_argument("--unrevealed", action="store_true", help="show sealed values as stored")
    parser.add_argument("--only", help="time this view only")
    args = parser.parse_args()

    from app import create_app
    from app.config import TEST_CONFIG
    from app.extensions import cache
    from app.security import ratelimits
    from tests.conftest import RequestIsolatedClient

    object.__setattr__(ratelimits.PAGES_PER_USER, "limit", "1000000 per minute")  # one user, many requests
    admin = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    url = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://") + "/" + args.database
    app = create_app({**TEST_CONFIG, "TESTING": False, "INSTANCE_PATH": tempfile.mkdtemp(prefix="side-by-side-"),
                      "SQLALCHEMY_DATABASE_URI": url, "EMBEDDED_DATABASE": False, "REDIS_URL": None,
                      "WTF_CSRF_ENABLED": False})
    app.test_client_class = RequestIsolatedClient
    client = app.test_client()
    signed_in = client.post("/login", data={"email": args.email, "password": args.password})
    assert signed_in.status_code == 302, f"sign-in answered {signed_in.status_code}"
    if args.unrevealed:
        from common import unrevealed
    views = json.loads(Path(args.urls).read_text())
    with unrevealed() if args.unrevealed else nullcontext():
        for name, urls in views.items():
            if args.only and name != args.only:
                continue
            for warm_up in urls[:2]:
                assert client.get(warm_up).status_code == 200, (name, warm_up)
            times = []
            for n in range(args.requests):
                if args.uncached:
                    with app.app_context():
                        cache.clear()
                started = time.perf_counter()
                response = client.get(urls[n % len(urls)])
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (name, response.status_code)
            times.sort()
            p95 = times[max(0, round(0.95 * (len(times) - 1)))]
            print(f"{name:<48} p50 {statistics.median(times):7.1f}  p95 {p95:7.1f}", flush=True)


if __name__ == "__main__":
    main()
