"""Where job records live: Redis when configured (any worker on any host reads them),
else JSON files under ``instance/jobs`` (any process on this host reads them).

Records deliberately stay out of the database: a restore replaces the database, and the
progress of that very restore must survive it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flask import current_app

from app import redis_clients

KEEP_SECONDS = 14 * 24 * 3600
KEEP_RECENT = 500

QUEUED, RUNNING, SUCCEEDED, FAILED, LOST = "queued", "running", "succeeded", "failed", "lost"
ACTIVE_STATES = (QUEUED, RUNNING)


@dataclass
class JobRecord:
    """One job: what it runs, who asked, and how far it got."""

    id: str
    name: str
    state: str = QUEUED
    params: dict = field(default_factory=dict)
    actor: dict = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    heartbeat_at: float | None = None
    percent: float = 0.0
    stage: str | None = None
    outcome: str | None = None  # a code the feature turns into a message
    result: dict = field(default_factory=dict)
    error: str | None = None  # technical detail, for logs and the CLI

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def finished(self) -> bool:
        return not self.active

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> JobRecord:
        data = json.loads(raw)
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


class RedisJobStore:
    """Records as JSON strings in Redis with a sorted index of recent ids."""

    PREFIX = "saintara:jobs:"

    def __init__(self, client):
        self.client = client

    def save(self, record: JobRecord) -> None:
        pipe = self.client.pipeline()
        pipe.set(self.PREFIX + record.id, record.to_json(), ex=KEEP_SECONDS)
        pipe.zadd(self.PREFIX + "recent", {record.id: record.created_at})
        pipe.zremrangebyrank(self.PREFIX + "recent", 0, -KEEP_RECENT - 1)
        pipe.execute()

    def get(self, job_id: str) -> JobRecord | None:
        raw = self.client.get(self.PREFIX + job_id)
        return JobRecord.from_json(raw) if raw else None

    def recent(self, limit: int = 50) -> list[JobRecord]:
        ids = self.client.zrevrange(self.PREFIX + "recent", 0, limit - 1)
        if not ids:
            return []
        raws = self.client.mget([self.PREFIX + i.decode() for i in ids])
        return [JobRecord.from_json(raw) for raw in raws if raw]


class FileJobStore:
    """Records as JSON files, each replaced atomically, in one directory."""

    def __init__(self, directory: Path):
        self.directory = directory

    def _path(self, job_id: str) -> Path:
        return self.directory / f"{job_id}.json"

    def save(self, record: JobRecord) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".job-", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            handle.write(record.to_json())
        os.replace(tmp, self._path(record.id))

    def get(self, job_id: str) -> JobRecord | None:
        try:
            return JobRecord.from_json(self._path(job_id).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def recent(self, limit: int = 50) -> list[JobRecord]:
        records = []
        for path in self.directory.glob("*.json"):
            try:
                records.append(JobRecord.from_json(path.read_text()))
            except (FileNotFoundError, ValueError):
                continue
        records.sort(key=lambda r: r.created_at, reverse=True)
        for stale in records[KEEP_RECENT:]:
            self._path(stale.id).unlink(missing_ok=True)
        return records[:limit]


def redis_client():
    """The app's Redis client for jobs (one per app, created on first use)."""
    client = current_app.extensions.get("jobs_redis")
    if client is None:
        url = current_app.config["REDIS_URL"]  # no socket timeout: the worker blocks on the queue
        client = current_app.extensions["jobs_redis"] = redis_clients.client(url, timeout=None)
    return client


def get_store() -> RedisJobStore | FileJobStore:
    """The store of the current app: Redis when configured, else files under the instance folder."""
    if current_app.config.get("REDIS_URL"):
        return RedisJobStore(redis_client())
    return FileJobStore(Path(current_app.instance_path) / "jobs")
