"""Analytics: sustained ingestion (stream + COPY) against one ORM INSERT per event, and what
recording a page view adds to a signed-in page request.

    .venv/bin/python scripts/bench/analytics.py [--events 500000] [--runs 3] [--pairs 3000] [--keep]

Makes the database saintara_bench_analytics (dropped afterwards unless --keep) on PostgreSQL
and uses Redis db 4 (BENCH_REDIS_URL to change it). Timed phases hold /tmp/saintara-bench.lock
so two benchmarks never time at once; generating data does not.

1. Ingestion: ``--events`` events go through the path the portal uses: the flusher's write
   (StreamSink: XADD of 500-event entries, pipelined, in flushes of 5,000) and the ingester
   (``ingest_once`` until the stream is drained: XREADGROUP, COPY, commit, XACK). Events/s per
   run (push + drain, one after the other, so the figure is a floor) and the median of
   ``--runs``. Against it, the naive way: one ORM ``INSERT`` committed per event (5,000 events).
2. Request overhead: GET /account of a signed-in account that consented, through the whole
   portal (test client, PostgreSQL, Redis sessions and cache), ``--pairs`` pairs interleaved:
   with analytics (consent check, visitor hash, one tuple appended; the flusher thread running)
   and without (the analytics hooks removed). Median and p95 of each, the median of the paired
   differences.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
import time
from datetime import UTC, datetime

os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")

from common import REDIS_URL, bench_database, bench_lock, make_app, median, percentile  # noqa: E402

STREAM = "saintara-bench:analytics"
PAGE = "/account/consent"  # a signed-in page of every role




def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def make_events(n: int) -> list[tuple]:
    base = datetime(2026, 12, 6, 1, tzinfo=UTC).timestamp()
    paths = ["/customers", "/customers/<int:customer_id>", "/transactions", "/approvals/<int:approval_id>", "/"]
    return [(base + i / 100, "2026-12-06", "page_view", paths[i % 5], "admin", f"{i % 5000:032x}", None)
            for i in range(n)]


def truncate(db) -> None:
    db.session.execute(db.text("TRUNCATE analytics_events, analytics_ingested_entries"))
    db.session.commit()


def ingestion(app, db, events: list[tuple], runs: int) -> list[float]:
    import redis

    from app.analytics import ingest
    from app.analytics.buffer import StreamSink

    client = redis.Redis.from_url(REDIS_URL)
    sink = StreamSink(REDIS_URL, STREAM)
    rates = []
    for run in range(runs):
        client.delete(STREAM)
        truncate(db)
        ingest.ensure_group(client, STREAM)
        with bench_lock():
            start = time.perf_counter()
            for i in range(0, len(events), 5000):
                sink.write(events[i:i + 5000])
            pushed = time.perf_counter()
            written = 0
            while True:
                done = ingest.ingest_once(db.session, client, STREAM, "bench")
                if not done and not ingest.pending(client, STREAM, "bench") and not client.xlen(STREAM):
                    break
                written += done
            end = time.perf_counter()
        assert written == len(events), (written, len(events))
        rates.append(len(events) / (end - start))
        print(f"  run {run + 1}: push {len(events) / (pushed - start):,.0f}/s, drain (COPY) "
              f"{len(events) / (end - pushed):,.0f}/s, together {rates[-1]:,.0f} events/s (load {load()})")
    client.delete(STREAM)
    return rates


def naive(app, db, events: list[tuple]) -> float:
    from datetime import date

    from app.analytics.models import AnalyticsEvent

    truncate(db)
    with bench_lock():
        start = time.perf_counter()
        for occurred, day, name, path, role, visitor, properties in events:
            db.session.add(AnalyticsEvent(occurred_at=datetime.fromtimestamp(occurred, UTC),
                                          day=date.fromisoformat(day), name=name, path=path, role=role,
                                          visitor=bytes.fromhex(visitor), properties=properties))
            db.session.commit()
        elapsed = time.perf_counter() - start
    truncate(db)
    return len(events) / elapsed


def signed_in_client(app, user):
    from flask.sessions import session_json_serializer

    from app.security.sessions import session_key

    sid = secrets.token_urlsafe(32)
    now = time.time()
    app.session_interface.store.save(session_key(sid), {
        "data": session_json_serializer.dumps({"_user_id": str(user.id), "_fresh": True}),
        "meta": {"created": now, "last_seen": now, "user_id": user.id, "ip": "127.0.0.1", "user_agent": "bench"},
    }, ttl=3600)
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], sid)
    return client


def consenting_user(app, db):
    from app.consent import notices
    from app.consent import services as consent
    from app.platform.models import Institution
    from app.security.actor import Actor
    from app.users import services as users
    from app.users.models import Role

    system = Actor.system("bench")
    institution = Institution(name="Bench Bank", code=f"B{secrets.token_hex(3)}")
    db.session.add(institution)
    db.session.flush()
    user = users.create_user(system, email=f"bench{secrets.token_hex(4)}@example.com", display_name="Bench",
                             role=Role.INSTITUTION_ADMIN, institution_id=institution.id, password=None)
    notice = notices.latest_notice("analytics") or notices.publish(
        system, "analytics", text_en="Count my visits.", text_id="Hitung kunjungan saya.", material=True)
    db.session.flush()
    consent.record(Actor.for_user(user), consent.subject_of_user(user), "analytics", granted=True,
                   source="account", notice_version=notice.version)
    db.session.commit()
    return user


class Switch:
    """Install or remove the analytics hooks of ``app`` (the "without" variant has none)."""

    def __init__(self, app):
        from app.analytics import hooks

        self.app, self.hooks = app, hooks

    def set(self, on: bool) -> None:
        before, after = self.app.before_request_funcs[None], self.app.after_request_funcs[None]
        for funcs, hook in ((before, self.hooks.note_privacy_signals), (after, self.hooks.record_page_view)):
            if on and hook not in funcs:
                funcs.append(hook)
            elif not on and hook in funcs:
                funcs.remove(hook)
        self.app.jinja_env.globals["analytics_script"] = self.hooks.analytics_script if on else (lambda: False)


def overhead(app, db, pairs: int) -> dict:
    from app.analytics import services as analytics
    from app.extensions import limiter

    user = consenting_user(app, db)
    client = signed_in_client(app, user)
    switch = Switch(app)
    for on in (True, False) * 50:  # warm-up: templates compiled, salt made, connections open
        switch.set(on)
        assert client.get(PAGE).status_code == 200
    buffer = analytics.buffer(app)
    buffer.flush()
    queued = recorded_page_views(app)
    timings = {True: [], False: []}
    cpu = {True: [], False: []}  # process CPU time (all threads: the flusher's work counts): less load-bound
    diffs = []
    with bench_lock():
        for i in range(pairs):
            if i % 100 == 0:
                with app.app_context():
                    limiter.reset()  # the per-user page limit would answer 429 (outside the timing)
            pair, cpu_pair = {}, {}
            for on in ((True, False) if i % 2 else (False, True)):
                switch.set(on)
                cpu_start, start = time.process_time(), time.perf_counter()
                response = client.get(PAGE)
                pair[on] = (time.perf_counter() - start) * 1000
                cpu_pair[on] = (time.process_time() - cpu_start) * 1000
                assert response.status_code == 200
            timings[True].append(pair[True])
            timings[False].append(pair[False])
            diffs.append(pair[True] - pair[False])
            cpu[True].append(cpu_pair[True])
            cpu[False].append(cpu_pair[False])
    switch.set(True)
    return {"with": timings[True], "without": timings[False], "diffs": diffs, "queued_before": queued,
            "cpu_with": cpu[True], "cpu_without": cpu[False],
            "user_id": user.id}


def added_work(app, db, user_id: int, n: int) -> list[float]:
    """The analytics hooks alone, as a request runs them (a fresh request context each time, so
    the consent answer comes from the shared cache, not from the request's memory)."""
    from flask import Response, request
    from flask_login import login_user

    from app.analytics import hooks
    from app.analytics import services as analytics
    from app.settings import services as settings
    from app.users.models import User

    timings = []
    logging.getLogger("saintara.request").disabled = True  # contexts without a response log as 500s
    with bench_lock():
        for _ in range(n):
            with app.app_context(), app.test_request_context(PAGE):
                login_user(db.session.get(User, user_id))
                settings.get("analytics_enabled")  # every page reads the settings (the banner)
                request.url_rule = app.url_map.bind("localhost").match(PAGE, return_rule=True)[0]
                response = Response("<p>page</p>", mimetype="text/html")
                start = time.perf_counter()
                hooks.note_privacy_signals()
                hooks.record_page_view(response)
                timings.append((time.perf_counter() - start) * 1000)
                db.session.rollback()
    logging.getLogger("saintara.request").disabled = False
    analytics.buffer(app).flush()
    return timings


def recorded_page_views(app) -> int:
    """Events that reached the requests' stream (the "with" requests must each have recorded one)."""
    import redis

    from app.analytics import services as analytics
    from app.analytics.buffer import decode

    analytics.buffer(app).flush()
    client = redis.Redis.from_url(REDIS_URL)
    return sum(len(decode(fields[b"e"])) for _id, fields in client.xrange(STREAM + ":requests"))


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` and kill: drop the database still
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--naive-events", type=int, default=5_000)
    parser.add_argument("--pairs", type=int, default=3_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    print(f"analytics benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load {load()}")
    with bench_database("saintara_bench_analytics", keep=args.keep) as (url, _reused):
        os.environ["ANALYTICS_STREAM"] = STREAM + ":requests"
        app = make_app(url, redis=True)
        app.config["ANALYTICS_STREAM"] = STREAM + ":requests"
        from app.analytics.buffer import EventBuffer, StreamSink
        from app.extensions import db

        # The flusher thread runs during the request benchmark, as in production.
        app.extensions["analytics"] = EventBuffer(StreamSink(REDIS_URL, STREAM + ":requests"), background=True)
        events = make_events(args.events)
        with app.app_context():
            print(f"\n1. ingestion of {args.events:,} events through the Redis stream and COPY:")
            rates = ingestion(app, db, events, args.runs)
            slow = naive(app, db, events[:args.naive_events])
            print(f"  median {median(rates):,.0f} events/s (target >= 5,000/s); naive ORM INSERT + commit per "
                  f"event: {slow:,.0f} events/s ({args.naive_events:,} events); ratio {median(rates) / slow:,.1f}x")
            print(f"\n2. GET {PAGE}, signed in and consenting, {args.pairs:,} interleaved pairs:")
            result = overhead(app, db, args.pairs)
            recorded = recorded_page_views(app) - result["queued_before"]
            alone = added_work(app, db, result["user_id"], args.pairs)
        with_, without, diffs = result["with"], result["without"], result["diffs"]
        assert recorded == args.pairs, f"{recorded} page views recorded for {args.pairs} requests with analytics"
        print(f"  page views recorded by the 'with' requests: {recorded:,} (one each)")
        print(f"  with analytics:    median {median(with_):.3f} ms, p95 {percentile(with_, 0.95):.3f} ms")
        print(f"  without analytics: median {median(without):.3f} ms, p95 {percentile(without, 0.95):.3f} ms")
        print(f"  overhead: median of paired differences {median(diffs):.3f} ms, difference of medians "
              f"{median(with_) - median(without):.3f} ms (target <= 0.2 ms); load {load()}")
        print(f"  process CPU time per request: with {median(result['cpu_with']):.3f} ms, without "
              f"{median(result['cpu_without']):.3f} ms (medians; difference "
              f"{median(result['cpu_with']) - median(result['cpu_without']):.3f} ms)")
        print(f"  the analytics hooks alone (privacy signals, consent answer from the cache, hash, append): "
              f"median {median(alone):.3f} ms, p95 {percentile(alone, 0.95):.3f} ms")
        import redis

        redis.Redis.from_url(REDIS_URL).delete(STREAM + ":requests")


if __name__ == "__main__":
    main()
