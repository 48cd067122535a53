"""Run Locust against the load stack in distributed mode (a master and worker processes).

    python -m scripts.load.run smoke   --out DIR [--users 10 --seconds 40]
    python -m scripts.load.run step    --out DIR [--steps 50,100,200,400,700,1000 --step-seconds 90]
    python -m scripts.load.run soak    --out DIR [--users 1000 --minutes 10]
    python -m scripts.load.run failure --out DIR [--users 20 --minutes 5]

The stack must be up and seeded for at least as many users (scripts/load/stack.sh up, seed).
Every run writes Locust's CSV files and HTML report, the response samples, the CPU of each part
of the stack (scripts/load/resources.py) and results.json into --out, then checks the database
(no lost decisions, no duplicate approvals: scripts/load/check.py). ``smoke`` exits 1 on any
failed request or check; ``step``, ``soak`` and ``failure`` hold the shared benchmark lock while
they run (other benchmarks must not time at the same moment) and report rather than judge.
``failure`` kills gunicorn instance 2 (kill -9, its workers with it) after a third of the run,
starts it again 30 s later, and restarts the stack's Redis at two thirds.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts.bench.common import bench_lock  # noqa: E402
from scripts.load import check, figures  # noqa: E402
from scripts.load.resources import ResourceSampler, mean_cores  # noqa: E402

STACK = ROOT / "scripts" / "load" / "stack.sh"


def run_dir() -> Path:
    return Path(os.environ.get("LOAD_RUN_DIR") or ROOT / "instance" / "load-stack")


def stack_env() -> dict:
    """The portal's environment in the stack (DATABASE_URL for the check)."""
    values = {}
    for line in (run_dir() / "portal.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def locust(out: Path, *, workers: int, think: float, users: int | None = None, spawn_rate: float | None = None,
           seconds: int | None = None, shape: dict | None = None, faults=None) -> dict:
    """Run one distributed Locust test; returns timing facts. ``faults``: [(offset s, stack.sh args)]."""
    out.mkdir(parents=True, exist_ok=True)
    # A previous run's files would be read as this run's: its decisions, checked against this
    # database, showed up as "lost" (a failure run counted 61 decisions of the day before).
    for stale in (*out.glob("decisions-*.jsonl"), *out.glob("samples-*.json")):
        stale.unlink()
    port = free_port()
    https = os.environ.get("LOAD_HTTPS_PORT", "8443")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOAD_SEED": str(run_dir() / "seed.json"),
           "LOAD_OUTPUT": str(out), "LOAD_WORKERS": str(workers), "LOAD_THINK_SCALE": str(think)}
    if shape:
        env.update(shape)
    base = [sys.executable, "-m", "locust", "-f", str(ROOT / "scripts" / "load" / "locustfile.py"),
            "--loglevel", os.environ.get("LOAD_LOCUST_LOGLEVEL", "WARNING")]
    master_args = base + ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                          "--expect-workers", str(workers), "--headless", "--only-summary",
                          "--host", f"https://127.0.0.1:{https}", "--csv", str(out / "locust"),
                          "--html", str(out / "report.html"), "--exit-code-on-error", "1"]
    if not shape:
        master_args += ["-u", str(users), "-r", str(spawn_rate), "-t", f"{seconds}s"]
    log = open(out / "locust.log", "w")  # noqa: SIM115 (open while Locust runs)
    master = subprocess.Popen(master_args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    time.sleep(1)
    worker_processes = [subprocess.Popen(base + ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                                         cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
                        for _ in range(workers)]
    started = time.time()
    injected = []

    def inject():
        for offset, args in faults or []:
            time.sleep(max(0.0, started + offset - time.time()))
            at = time.time()
            result = subprocess.run([str(STACK), *args], cwd=ROOT, capture_output=True, text=True)
            injected.append({"what": " ".join(args), "at": at, "took_s": round(time.time() - at, 1),
                             "ok": result.returncode == 0, "output": (result.stdout + result.stderr).strip()[-300:]})

    injector = threading.Thread(target=inject, daemon=True)
    injector.start()
    limit = (seconds or 0) + int(shape and shape.get("LOAD_TOTAL_SECONDS", 0) or 0) + 300
    try:
        code = master.wait(timeout=limit)
    finally:
        if master.poll() is None:
            master.terminate()
        for worker in worker_processes:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.terminate()
        log.close()
    injector.join(timeout=120)
    return {"started": started, "ended": time.time(), "exit_code": code, "faults": injected,
            "pids": [master.pid] + [w.pid for w in worker_processes]}


def history(out: Path) -> list[dict]:
    """Locust's per-second aggregated history: (time, users, rps)."""
    rows = []
    with open(out / "locust_stats_history.csv") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                rows.append({"t": float(row["Timestamp"]), "users": int(row["User Count"]),
                             "rps": float(row["Requests/s"] or 0)})
    return rows


def failures(out: Path) -> list[dict]:
    with open(out / "locust_failures.csv") as handle:
        return [{"method": r["Method"], "name": r["Name"], "error": r["Error"][:160], "count": int(r["Occurrences"])}
                for r in csv.DictReader(handle)]


def exceptions(out: Path) -> list[dict]:
    """Errors raised inside the scenarios (a page without the form it should have, ...)."""
    with open(out / "locust_exceptions.csv") as handle:
        return [{"count": int(r["Count"]), "message": r["Message"][:160]} for r in csv.DictReader(handle)]


def run_with_resources(out: Path, **kwargs) -> tuple[dict, list[dict]]:
    pids: list[int] = []
    database = stack_env()["DATABASE_URL"].rsplit("/", 1)[1]
    sampler = ResourceSampler(run_dir(), database, lambda: pids)
    sampler.start()
    original = subprocess.Popen

    def tracking(*args, **kw):
        process = original(*args, **kw)
        if "locust" in " ".join(map(str, args[0])):
            pids.append(process.pid)
        return process

    subprocess.Popen = tracking
    try:
        facts = locust(out, **kwargs)
    finally:
        subprocess.Popen = original
        samples = sampler.stop()
    (out / "resources.json").write_text(json.dumps(samples))
    return facts, samples


def database_check(out: Path) -> dict:
    return check.check(out, stack_env()["DATABASE_URL"])


def finish(out: Path, result: dict) -> dict:
    result.setdefault("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    result["failures"] = failures(out)
    result["exceptions"] = exceptions(out)
    result["database_check"] = database_check(out)
    (out / "results.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k not in ("steps_detail",)}, indent=1)[:6000])
    return result


def smoke(args) -> int:
    out = Path(args.out)
    facts = locust(out, workers=args.workers, think=args.think, users=args.users, spawn_rate=args.users,
                   seconds=args.seconds)
    rows = figures.read_samples(out)
    result = finish(out, {"kind": "smoke", "exit_code": facts["exit_code"],
                          "summary": figures.summary(rows, facts["started"], facts["ended"])})
    ok = (facts["exit_code"] == 0 and not result["failures"] and not result["exceptions"]
          and result["summary"]["requests"] > 0
          and result["database_check"]["ok"])
    return 0 if ok else 1


def step_detail(out: Path, steps: list[int], step_seconds: int, settle: int, samples: list[dict]) -> list[dict]:
    """Figures of each step, by time: step i runs from the shape's start + i × step_seconds. (The
    master's user count comes from the workers' reports, which lag and overlap on a starved machine.)"""
    rows = figures.read_samples(out)
    start = next(h["t"] for h in history(out) if h["users"] > 0) - 1
    detail = []
    for i, users in enumerate(steps):
        begin, end = start + i * step_seconds + settle, start + (i + 1) * step_seconds
        detail.append({"users": users, **figures.summary(rows, begin, end), "cores": mean_cores(samples, begin, end)})
    return detail


def step(args) -> int:
    out = Path(args.out)
    steps = [int(n) for n in args.steps.split(",")]
    shape = {"LOAD_SHAPE": "step", "LOAD_STEPS": args.steps, "LOAD_STEP_SECONDS": str(args.step_seconds),
             "LOAD_SPAWN_RATE": str(args.spawn_rate), "LOAD_TOTAL_SECONDS": str(len(steps) * args.step_seconds)}
    if args.reuse:  # figures again from a finished run's files (e.g. after changing how they are computed)
        previous = json.loads((out / "results.json").read_text())
        facts = {"exit_code": previous["exit_code"], "date": previous["date"]}
        load_before, load_after = previous["load_before"], previous["load_after"]
        samples = json.loads((out / "resources.json").read_text())
    else:
        with bench_lock() if not args.no_lock else nullcontext():
            load_before = os.getloadavg()[0]
            facts, samples = run_with_resources(out, workers=args.workers, think=1.0, shape=shape)
            load_after = os.getloadavg()[0]
    detail = step_detail(out, steps, args.step_seconds, args.settle, samples)
    (out / "step.svg").write_text(figures.step_plot(detail, "Step load: users against latency, throughput, errors"))
    date = facts.get("date") or datetime.fromtimestamp(facts["started"], UTC).strftime("%Y-%m-%d %H:%M UTC")
    finish(out, {"kind": "step", "date": date, "exit_code": facts["exit_code"], "step_seconds": args.step_seconds,
                 "settle_seconds": args.settle, "workers": args.workers, "steps": detail,
                 "load_before": load_before, "load_after": load_after})
    return 0


def soak(args) -> int:
    out = Path(args.out)
    seconds = int(args.minutes * 60)
    ramp = -(-args.users // 100) * 20
    shape = {"LOAD_SHAPE": "soak", "LOAD_USERS": str(args.users), "LOAD_HOLD_SECONDS": str(seconds),
             "LOAD_TOTAL_SECONDS": str(ramp + seconds)}
    with bench_lock() if not args.no_lock else nullcontext():
        load_before = os.getloadavg()[0]
        facts, samples = run_with_resources(out, workers=args.workers, think=1.0, shape=shape)
        load_after = os.getloadavg()[0]
    rows = figures.read_samples(out)
    start = next(h["t"] for h in history(out) if h["users"] > 0) - 1 + ramp
    finish(out, {"kind": "soak", "date": datetime.fromtimestamp(facts["started"], UTC).strftime("%Y-%m-%d %H:%M UTC"),
                 "exit_code": facts["exit_code"], "users": args.users, "minutes": args.minutes,
                 "ramp_seconds": ramp, "workers": args.workers,
                 "steady": figures.summary(rows, start, facts["ended"]),
                 "whole_run": figures.summary(rows, facts["started"], facts["ended"]),
                 "cores": mean_cores(samples, start, facts["ended"]),
                 "load_before": load_before, "load_after": load_after})
    return 0


def failure(args) -> int:
    out = Path(args.out)
    seconds = int(args.minutes * 60)
    ramp = args.users / args.spawn_rate
    kill_at = ramp + (seconds - ramp) / 3
    redis_at = ramp + 2 * (seconds - ramp) / 3
    faults = [(kill_at, ["kill-web", "2"]), (kill_at + 30, ["start-web", "2"]), (redis_at, ["restart-redis"])]
    if args.reuse:  # figures again from a finished run's files
        previous = json.loads((out / "results.json").read_text())
        facts = {"exit_code": previous["exit_code"], "started": previous["started"], "faults": previous["faults"],
                 "ended": previous.get("ended") or max(row[1] for row in figures.read_samples(out)) + 1}
        load_before, load_after = previous["load_before"], previous["load_after"]
        for fault in facts["faults"]:
            fault["at"] = facts["started"] + fault.pop("at_s")
    else:
        with bench_lock() if not args.no_lock else nullcontext():
            load_before = os.getloadavg()[0]
            facts, samples = run_with_resources(out, workers=args.workers, think=1.0, users=args.users,
                                                spawn_rate=args.spawn_rate, seconds=seconds, faults=faults)
            load_after = os.getloadavg()[0]
    rows = figures.read_samples(out)
    for fault in facts["faults"]:
        fault.update(figures.recovery(rows, fault["at"], 60))
        fault["at_s"] = round(fault.pop("at") - facts["started"], 1)
    finish(out, {"kind": "failure", "started": facts["started"], "ended": facts["ended"],
                 "date": datetime.fromtimestamp(facts["started"], UTC).strftime("%Y-%m-%d %H:%M UTC"),
                 "exit_code": facts["exit_code"], "users": args.users, "minutes": args.minutes,
                 "faults": facts["faults"], "whole_run": figures.summary(rows, facts["started"], facts["ended"]),
                 "load_before": load_before, "load_after": load_after})
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("smoke", "step", "soak", "failure"):
        p = sub.add_parser(name)
        p.add_argument("--out", required=True)
        p.add_argument("--workers", type=int, default=2, help="Locust worker processes")
        p.add_argument("--no-lock", action="store_true", help="do not wait for the shared benchmark lock")
        p.add_argument("--spawn-rate", type=float, default=5.0)
    sub.choices["smoke"].add_argument("--users", type=int, default=10)
    sub.choices["smoke"].add_argument("--seconds", type=int, default=40)
    sub.choices["smoke"].add_argument("--think", type=float, default=0.5, help="scale of every pause")
    sub.choices["step"].add_argument("--steps", default="50,100,200,400,700,1000")
    sub.choices["step"].add_argument("--step-seconds", type=int, default=90)
    sub.choices["step"].add_argument("--settle", type=int, default=20, help="seconds of each step not counted")
    sub.choices["step"].add_argument("--reuse", action="store_true", help="recompute the figures of --out's run")
    sub.choices["soak"].add_argument("--users", type=int, default=1000)
    sub.choices["soak"].add_argument("--minutes", type=float, default=10)
    sub.choices["failure"].add_argument("--users", type=int, default=20, help="below the knee: errors are the faults'")
    sub.choices["failure"].add_argument("--minutes", type=float, default=5)
    sub.choices["failure"].add_argument("--reuse", action="store_true", help="recompute the figures of --out's run")
    args = parser.parse_args()
    return {"smoke": smoke, "step": step, "soak": soak, "failure": failure}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
