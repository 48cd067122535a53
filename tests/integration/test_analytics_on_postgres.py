"""Analytics on PostgreSQL and Redis: buffer -> flusher -> stream -> ingester (COPY) -> rows,
and what a killed ingester leaves behind: nothing lost, nothing written twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime

import psycopg2
import pytest
import redis
from sqlalchemy import func, select

from app.analytics import ingest
from app.analytics import services as analytics
from app.analytics.buffer import EventBuffer, StreamSink
from app.analytics.models import AnalyticsEvent
from tests.integration.served import ROOT, seeded_database


def events(n: int, day: str = "2026-12-06") -> list[tuple]:
    base = datetime(2026, 12, 6, 5, tzinfo=UTC).timestamp()
    return [(base + i / 1000, day, "page_view", "/customers/<int:customer_id>", "admin", f"{i % 97:032x}", None)
            for i in range(n)]


@pytest.fixture
def stream(app, redis_url):
    name = f"test:analytics:{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    yield client, name
    client.delete(name)


def count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(AnalyticsEvent))


def test_the_flusher_thread_moves_events_to_the_stream(redis_url, stream):
    client, name = stream
    buffer = EventBuffer(StreamSink(redis_url, name), interval=0.05, batch=10_000)
    for event in events(1200):
        buffer.append(event)
    deadline = time.time() + 5
    while client.xlen(name) < 3 and time.time() < deadline:
        time.sleep(0.02)
    assert client.xlen(name) == 3  # chunks of 500 events per entry
    assert not buffer.events


def test_a_request_goes_through_the_stream_and_copy_into_rows(app, db, consenting, client_for, stream):
    client, name = stream
    app.extensions["analytics"].sink.stream = name
    try:
        user = consenting()
        browser = client_for(user)
        for _ in range(3):
            assert browser.get("/account").status_code == 200
        assert browser.get("/account", headers={"Sec-GPC": "1"}).status_code == 200
        assert analytics.buffer(app).flush() == 3
    finally:
        app.extensions["analytics"].sink.stream = app.config["ANALYTICS_STREAM"]
    ingest.ensure_group(client, name)
    assert ingest.ingest_once(db.session, client, name, "c1") == 3
    rows = db.session.scalars(select(AnalyticsEvent)).all()
    assert {(r.name, r.path, r.role, len(r.visitor)) for r in rows} == {("page_view", "/account", "admin", 16)}
    assert client.xlen(name) == 0 and ingest.pending(client, name, "c1") == 0


def test_copy_writes_every_column_as_the_orm_would(app, db):
    one = (datetime(2026, 12, 6, 5, 30, tzinfo=UTC).timestamp(), "2026-12-06", "import_done", None, None,
           "ab" * 16, {"rows": 12})
    ingest.write_events(db.session, [one])
    row = db.session.scalars(select(AnalyticsEvent)).one()
    assert (row.occurred_at, row.day, row.name, row.path, row.role, row.visitor, row.properties) == (
        datetime(2026, 12, 6, 5, 30, tzinfo=UTC), date(2026, 12, 6), "import_done", None, None, b"\xab" * 16,
        {"rows": 12})


def test_entries_are_acknowledged_only_after_commit_and_written_once(app, db, redis_url, stream, monkeypatch):
    client, name = stream
    ingest.ensure_group(client, name)
    StreamSink(redis_url, name).write(events(1500))  # three entries

    def fail(*_args):
        raise RuntimeError("the database went away")

    # 1. Killed before the commit: nothing written, nothing acknowledged.
    monkeypatch.setattr(ingest, "write_events", fail)
    with pytest.raises(RuntimeError):
        ingest.ingest_once(db.session, client, name, "c1")
    monkeypatch.undo()
    assert count(db) == 0 and ingest.pending(client, name, "c1") == 3
    # 2. Killed between the commit and XACK: the rows are there, the entries still pending.
    real_pipeline = client.pipeline

    def pipeline_that_dies(*args, **kwargs):
        pipe = real_pipeline(*args, **kwargs)
        pipe.execute = lambda: (_ for _ in ()).throw(redis.ConnectionError("killed"))
        return pipe

    monkeypatch.setattr(client, "pipeline", pipeline_that_dies)
    with pytest.raises(redis.ConnectionError):
        ingest.ingest_once(db.session, client, name, "c1")
    monkeypatch.undo()
    assert count(db) == 1500 and ingest.pending(client, name, "c1") == 3
    # 3. Read again (another ingester claims them once idle): acknowledged, not written twice.
    monkeypatch.setattr(ingest, "CLAIM_IDLE_MS", 0)
    assert ingest.ingest_once(db.session, client, name, "c2") == 0
    assert count(db) == 1500
    assert client.xpending(name, ingest.GROUP)["pending"] == 0 and client.xlen(name) == 0


def test_a_killed_ingester_process_loses_nothing(redis_url, tmp_path):
    """SIGKILL a running `flask analytics ingest`, run it again: every event is there exactly once."""
    name = f"test:analytics:{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    with seeded_database("saintara_test_analytics", redis_url, tmp_path) as seeded:
        env = {**seeded["env"], "ANALYTICS_STREAM": name}
        sink = StreamSink(redis_url, name)
        total = 0
        for _ in range(400):  # 400 entries of 100 events, written 4 entries (one transaction) at a time
            sink.write(events(100))
            total += 100
        url = seeded["database_url"].replace("postgresql+psycopg2://", "postgresql://")
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "analytics", "ingest", "--consumer", "k1",
                   "--entries", "4"]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 60
            while _rows(url) == 0 and time.time() < deadline:
                time.sleep(0.01)
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.wait(timeout=30)
        written_before = _rows(url)
        assert 0 < written_before < total, "the kill should land half-way"
        again = subprocess.run([*command, "--once"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert _rows(url) == total
        assert client.xpending(name, ingest.GROUP)["pending"] == 0
    client.delete(name)


def _rows(url: str) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM analytics_events")
        found = cur.fetchone()[0]
    conn.close()
    return found

