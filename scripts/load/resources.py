"""CPU of each part of the load stack, sampled while a load run goes: which process saturates.

Groups: nginx, each gunicorn instance (master and workers), the jobs worker, the analytics
ingester, the stack's Redis, the PostgreSQL backends of the stack's database, the Locust
processes, and everything else on the machine (other people's tests and benchmarks share it).
Figures are in cores (1.0 = one core busy for the whole interval).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psutil

PARTS = ("nginx", "web1", "web2", "jobs", "analytics", "redis")


def _tree(pid: int) -> list[psutil.Process]:
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return []


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
        return times.user + times.system
    except psutil.Error:
        return 0.0


class ResourceSampler(threading.Thread):
    """Every ``interval`` seconds: cores used per group, the load average, the machine's busy cores."""

    def __init__(self, run_dir: Path, database: str, locust_pids, interval: float = 5.0):
        super().__init__(daemon=True)
        self.run_dir, self.database, self.locust_pids, self.interval = run_dir, database, locust_pids, interval
        self.samples: list[dict] = []
        self._halt = threading.Event()
        self._last: dict[int, float] = {}

    def _groups(self) -> dict[str, list[psutil.Process]]:
        groups: dict[str, list[psutil.Process]] = {}
        for part in PARTS:
            pidfile = self.run_dir / f"{part}.pid"
            try:
                groups[part] = _tree(int(pidfile.read_text().strip()))
            except (OSError, ValueError):
                groups[part] = []
        groups["postgres"] = [p for p in psutil.process_iter(["name", "cmdline"])
                              if p.info["name"] == "postgres" and self.database in " ".join(p.info["cmdline"] or [])]
        groups["locust"] = [p for pid in self.locust_pids() for p in _tree(pid)]
        return groups

    def sample(self, seconds: float) -> dict:
        groups, used, current = self._groups(), {}, {}
        for name, processes in groups.items():
            total = 0.0
            for process in processes:
                value = _cpu(process)
                current[process.pid] = value
                total += value - self._last.get(process.pid, value)
            used[name] = round(total / seconds, 2)
        self._last = current
        return used

    def run(self) -> None:
        self.sample(1.0)
        busy_before, at = psutil.cpu_times(), time.monotonic()
        while not self._halt.wait(self.interval):
            now = time.monotonic()
            seconds, at = now - at, now
            used = self.sample(seconds)
            busy_now = psutil.cpu_times()
            busy = ((busy_now.user + busy_now.system + busy_now.nice + busy_now.irq + busy_now.softirq)
                    - (busy_before.user + busy_before.system + busy_before.nice + busy_before.irq
                       + busy_before.softirq)) / seconds
            busy_before = busy_now
            used["machine"] = round(busy, 2)
            used["other"] = round(max(0.0, busy - sum(v for k, v in used.items() if k != "machine")), 2)
            self.samples.append({"t": time.time(), "load1": os.getloadavg()[0], "cores": used})

    def stop(self) -> list[dict]:
        self._halt.set()
        self.join(timeout=self.interval * 2)
        return self.samples


def mean_cores(samples: list[dict], start: float, end: float) -> dict:
    """Mean cores per group over the samples taken in [start, end]."""
    window = [s for s in samples if start <= s["t"] <= end]
    if not window:
        return {}
    names = window[0]["cores"].keys()
    result = {name: round(sum(s["cores"].get(name, 0) for s in window) / len(window), 2) for name in names}
    result["load1_min"] = round(min(s["load1"] for s in window), 1)
    result["load1_max"] = round(max(s["load1"] for s in window), 1)
    return result
