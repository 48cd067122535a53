"""Benchmark: the access export of one person and the cost of erasure, ours against the naive way.

    .venv/bin/python scripts/bench/privacy.py [--sizes 100000,1000000,10000000] [--keep]
                                              [--write-doc docs/PERFORMANCE.md]
    .venv/bin/python scripts/bench/privacy.py --reuse --export-only [--profile /tmp/export.prof]

1. Creates ``saintara_bench_privacy``, migrates it and fills it (scripts/bench/privacy_data.py):
   20 institutions, 60 staff, 20,000 customers with accounts and keys; the export's subject
   with 10,000 payments and 50,000 sealed audit entries about them among the first 300,000
   entries; for each size a few erasure candidates with about 300 entries each, spread over the
   log up to that size. The log grows step by step (COPY, chained, sealed with the vault):
   100,000 → 300,000 → 1,000,000 → 10,000,000 entries.
2. At 300,000 entries: the access export of the subject as the background job writes it
   (``app.privacy.exports.write_export`` in one committed transaction: the ZIP, its SHA-256, the
   audit entry), wall clock and CPU time of this process and of its PostgreSQL backend, against
   the naive export (scripts/bench/privacy_naive.py). The datasets of both ZIPs are compared
   record by record. Ours is measured again at the largest size.
3. At each size in ``--sizes``: ``app.privacy.erasure.erase_customer`` of each candidate (one
   committed transaction: pseudonymise, destroy the keys, ledger, audit entry) against the naive
   way (rewrite every entry that mentions the person and hash the chain again from the first
   rewritten entry to the head; timed to the end of its last UPDATE, then rolled back). Above
   ``--naive-max`` the naive time is estimated: its scan for the person's entries is run, the
   re-hashing costed at the rate measured at the largest size it ran at. Then ``flask audit
   verify`` on the database.
4. Drops the database unless ``--keep``; ``--reuse --export-only`` measures the export again
   on the kept database (whatever size it has grown to).

Above ``--search-index-max`` entries the log is built without its trigram search index (the
slowest index to build): erasure never searches the log.
Timed phases hold /tmp/saintara-bench.lock so that two benchmarks never time at once. Tests
never assert on time; this script prints the figures docs/PERFORMANCE.md quotes.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import shutil
import statistics
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from common import ROOT, bench_database, bench_lock, make_app, percentile, replace_section  # noqa: E402  (first: it sets the path)
from sqlalchemy import text  # noqa: E402

from app.database import transaction  # noqa: E402
from app.extensions import db  # noqa: E402
from app.platform.models import Customer  # noqa: E402
from app.privacy import erasure, exports  # noqa: E402
from app.security.actor import Actor  # noqa: E402
from app.users.models import User  # noqa: E402
from scripts.bench.privacy_data import SUBJECT, SUBJECT_SPAN, AuditLogWriter, Plan, World, account_of, create_people
from scripts.bench.privacy_naive import NaiveExport, erase_naive, naive_scan

DATABASE = "saintara_bench_privacy"
RESULTS = ROOT / "instance" / "bench" / "privacy-results.json"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_average() -> float:
    with open("/proc/loadavg") as handle:
        return float(handle.read().split()[0])


def cpu_pressure() -> float | None:
    """The share of the last 10 s in which some runnable task waited for a CPU (PSI), in percent:
    what the 1-minute load average says too late."""
    try:
        with open("/proc/pressure/cpu") as handle:
            return float(handle.readline().split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None




def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a PostgreSQL backend has used so far."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "p95": percentile(values, 0.95), "min": min(values),
            "max": max(values), "n": len(values)}


def bench_actor() -> Actor:
    """The superadmin who starts the exports and erasures (user #1 of the bench data)."""
    return Actor.for_user(db.session.get(User, 1), ip="10.20.0.2", request_id="bench-privacy")


# --- the export -----------------------------------------------------------------------------------

def export_ours(app, folder: Path, n: int, profile: Path | None = None) -> dict:
    """One run of what the export job runs: write_export in one transaction (committed)."""
    path = folder / f"ours-{n}.zip"
    profiler = cProfile.Profile() if profile else None
    with app.app_context():
        actor = bench_actor()
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        load, pressure = load_average(), cpu_pressure()
        started, cpu, db_cpu = time.perf_counter(), time.process_time(), backend_cpu(pid)
        if profiler:
            profiler.enable()
        with transaction():
            result = exports.write_export(actor, "customer", SUBJECT, path, progress=lambda stage, percent: None,
                                          job_id=f"bench-{n}")
        wall, cpu, db_cpu = time.perf_counter() - started, time.process_time() - cpu, backend_cpu(pid) - db_cpu
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile))
    return {"wall": wall, "cpu": cpu, "db_cpu": db_cpu, "load": load, "pressure": pressure, "path": str(path),
            "counts": result["counts"], "bytes": result["bytes"]}


def export_naive(app, folder: Path, n: int) -> dict:
    path = folder / f"naive-{n}.zip"
    with app.app_context():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        load, pressure = load_average(), cpu_pressure()
        started, cpu, db_cpu = time.perf_counter(), time.process_time(), backend_cpu(pid)
        NaiveExport(SUBJECT).write(path)
        wall, cpu, db_cpu = time.perf_counter() - started, time.process_time() - cpu, backend_cpu(pid) - db_cpu
        db.session.rollback()
    return {"wall": wall, "cpu": cpu, "db_cpu": db_cpu, "load": load, "pressure": pressure, "path": str(path)}


def same_records(ours: str, naive: str) -> dict[str, int]:
    """The records of every dataset in both ZIPs, compared; returns the counts. Stops on a difference."""
    a, b = zipfile.ZipFile(ours), zipfile.ZipFile(naive)
    counts = {}
    for name in sorted(n for n in a.namelist() if n.endswith(".json") and n != "manifest.json"):
        mine, theirs = json.loads(a.read(name)), json.loads(b.read(name))
        if mine != theirs:
            first = next((i for i, (x, y) in enumerate(zip(mine, theirs, strict=False)) if x != y), None)
            raise SystemExit(f"{name}: ours and naive differ ({len(mine)} vs {len(theirs)} records; first "
                             f"difference at {first})")
        counts[name[:-5]] = len(mine)
    return counts


def _summaries(runs: list[dict]) -> dict:
    found = {k: summary([r[k] for r in runs]) for k in ("wall", "cpu", "db_cpu", "load")}
    pressures = [r["pressure"] for r in runs if r["pressure"] is not None]
    found["pressure"] = summary(pressures) if pressures else None
    return found


def measure_export(app, runs: int, naive_runs: int, profile: Path | None = None) -> dict:
    with app.app_context():
        entries = db.session.execute(text("SELECT count(*) FROM audit_logs")).scalar()
    folder = Path(tempfile.mkdtemp(prefix="privbench-export-"))
    try:
        log(f"export: warm-up (log of {entries:,} entries)")
        export_ours(app, folder, 0)
        ours, naive = [], []
        with bench_lock():
            for n in range(1, runs + 1):
                ours.append(export_ours(app, folder, n))
                r = ours[-1]
                log(f"  ours #{n}: {r['wall']:.2f} s wall, {r['cpu']:.2f} s CPU, PostgreSQL {r['db_cpu']:.2f} s CPU, "
                    f"load {r['load']:.2f}, CPU pressure {r['pressure']}%")
            for n in range(1, naive_runs + 1):
                naive.append(export_naive(app, folder, n))
                r = naive[-1]
                log(f"  naive #{n}: {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU, PostgreSQL {r['db_cpu']:.1f} s CPU, "
                    f"load {r['load']:.2f}, CPU pressure {r['pressure']}%")
        if profile:
            export_ours(app, folder, runs + 1, profile)
            log(f"  profile of one more run in {profile}")
        # One more of ours right after the naive one (which writes no audit entry): the same entries.
        last = export_ours(app, folder, runs + 2)
        if naive:
            log(f"  ours and naive give the same records: {same_records(last['path'], naive[-1]['path'])}")
        manifest = json.loads(zipfile.ZipFile(last["path"]).read("manifest.json"))
        return {"log_entries": entries, "counts": last["counts"], "bytes": last["bytes"],
                "files_bytes": sum(f["bytes"] for f in manifest["files"]),
                "ours": _summaries(ours), "naive": _summaries(naive) if naive else None}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- erasure --------------------------------------------------------------------------------------

def mentions(customer_id: int) -> int:
    """How many entries are about the customer or their account, or made by the account."""
    account = account_of(customer_id)
    return db.session.execute(text(
        "SELECT count(*) FROM audit_logs WHERE (resource_type = 'customer' AND resource_id = :c) OR "
        "(resource_type = 'user' AND resource_id = :a) OR actor_id = :ai"),
        {"c": str(customer_id), "a": str(account), "ai": account}).scalar()


def erase_ours(app, customer_id: int) -> dict:
    with app.app_context():
        actor = bench_actor()
        load = load_average()
        started = time.perf_counter()
        with transaction():
            erasure.erase_customer(actor, db.session.get(Customer, customer_id))
        return {"wall": time.perf_counter() - started, "load": load}


def measure_erasure(app, candidates: list[int], naive_runs: int, naive_budget: float, naive_max: int,
                    rehash_rate: float | None) -> dict:
    with app.app_context():
        entries = db.session.execute(text("SELECT count(*) FROM audit_logs")).scalar()
        head = db.session.execute(text("SELECT max(id) FROM audit_logs")).scalar()
        about = [mentions(c) for c in candidates]
    log(f"erasure in a log of {entries:,} entries; candidates have {min(about)} to {max(about)} entries each")
    naive, loads, estimated = [], [], None
    with bench_lock():
        if entries <= naive_max:
            deadline = time.perf_counter() + naive_budget
            for n, customer in enumerate(candidates[:naive_runs]):
                if n and time.perf_counter() > deadline:
                    break
                loads.append(load_average())
                naive.append(erase_naive(app, customer, verify=n == 0 and entries <= 200_000))
                r = naive[-1]
                log(f"  naive: {r['wall']:.1f} s ({r['find']:.1f} s to find and rewrite {r['rewritten']} entries; "
                    f"{r['rehashed']:,} from entry {r['first']:,} hashed again in {r['hash']:.1f} s and updated in "
                    f"{r['update']:.1f} s), load {loads[-1]:.2f}"
                    + ("" if r["chain_ok"] is None else f"; the rewritten chain verifies: {r['chain_ok']}"))
        elif rehash_rate:
            loads.append(load_average())
            scan = naive_scan(app, candidates[0])
            rehashed = head - scan["first"] + 1
            estimated = {"find": scan["find"], "rehashed": rehashed, "rate": rehash_rate,
                         "wall": scan["find"] + rehashed / rehash_rate, "first": scan["first"]}
            log(f"  naive (estimated): its scan, run: {scan['find']:.1f} s, + {rehashed:,} entries to hash again "
                f"and update at {rehash_rate:,.0f}/s = {estimated['wall']:,.0f} s")
        ours = []
        for customer in candidates:
            ours.append(erase_ours(app, customer))
            log(f"  ours: {ours[-1]['wall'] * 1000:.1f} ms, load {ours[-1]['load']:.2f}")
    if naive:
        with app.app_context(), db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM audit_logs")  # what the rolled-back rewrites left
    return {"log_entries": entries, "about": summary([float(a) for a in about]),
            "ours": summary([r["wall"] for r in ours]), "ours_load": summary([r["load"] for r in ours]),
            "naive": {k: summary([r[k] for r in naive]) for k in ("wall", "find", "hash", "update")} if naive
            else None, "naive_load": summary(loads) if loads else None,
            "naive_rehashed": statistics.median([r["rehashed"] for r in naive]) if naive else None,
            "naive_chain_ok": next((r["chain_ok"] for r in naive if r["chain_ok"] is not None), None),
            "naive_estimated": estimated}


def verify_with_cli(app) -> str:
    """``flask audit verify`` on the bench database; its last line."""
    started = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    output = result.output.strip().splitlines()
    line = output[-1] if output else repr(result.exception)
    log(f"flask audit verify ({time.perf_counter() - started:.0f} s): exit {result.exit_code}: {line}")
    return f"exit status {result.exit_code}: {line}"


# --- the report -----------------------------------------------------------------------------------



def _load(s: dict) -> str:
    return f"{s['min']:.1f}–{s['max']:.1f}" if s["min"] != s["max"] else f"{s['min']:.1f}"


def _pressure(s: dict | None) -> str:
    return "–" if not s else f"{s['min']:.0f}–{s['max']:.0f} %" if round(s["min"]) != round(s["max"]) else \
        f"{s['min']:.0f} %"


def _export_row(label: str, r: dict, digits: int = 2) -> str:
    return (f"| {label} | {r['wall']['median']:.{digits}f} s | {r['wall']['p95']:.{digits}f} s | "
            f"{r['cpu']['median']:.{digits}f} s | {r['db_cpu']['median']:.{digits}f} s | {_load(r['load'])} | "
            f"{_pressure(r.get('pressure'))} |")


def export_lines(e: dict, again: dict | None) -> list[str]:
    o, n = e["ours"], e["naive"]
    lines = [
        f"**Access export** of one customer with {e['counts']['transactions']:,} payments and "
        f"{e['counts']['audit_entries']:,} sealed audit entries about them in a log of {e['log_entries']:,} entries "
        f"({e['files_bytes'] / 1e6:.0f} MB of JSON and CSV, a ZIP of {e['bytes'] / 1e6:.1f} MB): what the background "
        "job runs (`app.privacy.exports.write_export` in one committed transaction), "
        f"{o['wall']['n']} runs after a warm-up, against the naive way ({n['wall']['n'] if n else 0} runs). Both give "
        "the same records (compared record by record). CPU pressure: the share of the last 10 s in which a runnable "
        "task waited for a CPU (`/proc/pressure/cpu`).",
        "",
        "| | wall median | wall p95 | CPU, Python | CPU, PostgreSQL | load (1 min) | CPU pressure |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        _export_row("**ours**", o).replace(f"| {o['wall']['median']:.2f} s |",
                                           f"| **{o['wall']['median']:.2f} s** |", 1),
    ]
    if n:
        lines.append(_export_row("naive", n, 1))
    if again:
        lines.append(_export_row(f"ours, log of {again['log_entries']:,}", again["ours"]))
    lines.append("")
    if n:
        lines.append(f"Naive / ours: {n['wall']['median'] / o['wall']['median']:.0f}× (wall), "
                     f"{n['cpu']['median'] / o['cpu']['median']:.0f}× (CPU).")
    return lines


def erasure_lines(rows: list[dict]) -> list[str]:
    lines = [
        "**Erasure** (`app.privacy.erasure.erase_customer`: pseudonymise the customer, their account and approval "
        "requests, destroy both keys, ledger rows, audit entry, one committed transaction) of customers with about "
        f"{rows[0]['about']['median']:.0f} audit entries each, spread over the whole log, against the naive way "
        "(rewrite every entry that mentions them and hash the chain again from the first rewritten entry to the head, "
        "timed to the end of its last UPDATE):",
        "",
        "| log size | ours median | ours p95 | ours n | naive | naive n | naive / ours | load (1 min) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        o, naive, count = r["ours"], None, "–"
        if r["naive"]:
            naive, count = r["naive"]["wall"]["median"], str(r["naive"]["wall"]["n"])
            naive_text = f"{naive:,.1f} s"
        elif r["naive_estimated"]:
            naive, count = r["naive_estimated"]["wall"], "estimated"
            naive_text = f"≈ {naive:,.0f} s"
        ratio = f"{naive / o['median']:,.0f}×" if naive else "–"
        loads = r["ours_load"] if not r["naive_load"] else {
            "min": min(r["ours_load"]["min"], r["naive_load"]["min"]),
            "max": max(r["ours_load"]["max"], r["naive_load"]["max"])}
        lines.append(f"| {r['log_entries']:,} | {o['median'] * 1000:.0f} ms | {o['p95'] * 1000:.0f} ms | {o['n']} | "
                     f"{naive_text if naive else '–'} | {count} | {ratio} | {_load(loads)} |")
    lines.append("")
    for r in rows:
        if r["naive"]:
            n = r["naive"]
            lines.append(
                f"- {r['log_entries']:,} entries, naive: {n['find']['median']:.1f} s to find and rewrite the person's "
                f"entries (a scan of the log), {n['hash']['median']:.1f} s to hash {r['naive_rehashed']:,.0f} entries "
                f"again, {n['update']['median']:.1f} s to update them (every index of every row)"
                + ("; the rewritten chain verifies." if r["naive_chain_ok"] else "."))
        elif r["naive_estimated"]:
            x = r["naive_estimated"]
            lines.append(
                f"- {r['log_entries']:,} entries, naive **estimated**, not run: its scan for the person's entries, "
                f"run here: {x['find']:.0f} s; plus {x['rehashed']:,} entries to hash again and update at the rate "
                f"measured at the largest size it ran at ({x['rate']:,.0f} entries/s).")
    return lines


def report(results: dict, args) -> str:
    lines = ["## Privacy", "",
             f"`.venv/bin/python scripts/bench/privacy.py --sizes {args.sizes}`, {results['date']}, on this machine "
             "(2 shared cores, PostgreSQL 15 with its default settings), while other work ran (the load average is "
             "given with each figure).", ""]
    if results.get("export"):
        lines += export_lines(results["export"], results.get("export_again"))
        lines.append("")
    if results.get("erasure"):
        lines += erasure_lines(results["erasure"])
        lines.append(f"- `flask audit verify` on the database after every erasure: {results.get('verify')}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000", help="log sizes for the erasure comparison")
    parser.add_argument("--candidates", type=int, default=7, help="customers erased at each size")
    parser.add_argument("--export-runs", type=int, default=9)
    parser.add_argument("--naive-export-runs", type=int, default=3)
    parser.add_argument("--naive-erasure-runs", type=int, default=3)
    parser.add_argument("--naive-budget", type=float, default=300.0,
                        help="seconds of naive erasures per size (at least one runs)")
    parser.add_argument("--naive-max", type=int, default=2_000_000,
                        help="above this log size the naive erasure is estimated, not run")
    parser.add_argument("--search-index-max", type=int, default=2_000_000,
                        help="above this log size the trigram search index is not built")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the database a --keep run left")
    parser.add_argument("--export-only", action="store_true", help="with --reuse: measure ours alone")
    parser.add_argument("--profile", type=Path, help="cProfile one more export run into this file")
    parser.add_argument("--write-doc", type=Path, help="put the figures into this file's 'Privacy' section")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    results: dict = {"date": datetime.now(UTC).strftime("%-d %B %Y"), "erasure": []}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)

    with bench_database(DATABASE, keep=args.keep or args.reuse, reuse=args.reuse) as (url, reused):
        app = make_app(url)
        if reused:
            again = measure_export(app, args.export_runs, 0 if args.export_only else args.naive_export_runs,
                                   args.profile)
            print(json.dumps(again, indent=1))
            return
        world, plan = World(), Plan(sizes, args.candidates)
        with app.app_context():
            log("creating people, payments, requests and keys")
            create_people(world, plan)
            writer = AuditLogWriter(world, plan)
            writer.open()
            log(f"sealing checked against app.audit.personal.seal_entry on {writer.check_sealing():,} entries")
        rate = None
        try:
            for stage in sorted(set(sizes) | {SUBJECT_SPAN}):
                with app.app_context():
                    log(f"growing the log to {stage:,} generated entries")
                    writer.write(stage, log, search_index=stage <= args.search_index_max)
                    size = db.session.execute(text("SELECT pg_database_size(current_database())")).scalar()
                    log(f"database: {size / 1e9:.1f} GB")
                if stage == SUBJECT_SPAN:
                    results["export"] = measure_export(app, args.export_runs, args.naive_export_runs, args.profile)
                if stage in sizes:
                    row = measure_erasure(app, plan.candidates[stage], args.naive_erasure_runs, args.naive_budget,
                                          args.naive_max, rate)
                    if row["naive"]:
                        naive = row["naive"]
                        rate = row["naive_rehashed"] / (naive["wall"]["median"] - naive["find"]["median"])
                    results["erasure"].append(row)
                    results["verify"] = verify_with_cli(app)
                RESULTS.write_text(json.dumps(results, indent=1))
            if max(sizes) > SUBJECT_SPAN:
                results["export_again"] = measure_export(app, 5, 0)
        finally:
            with app.app_context():
                writer.close()
                db.engine.dispose()
    RESULTS.write_text(json.dumps(results, indent=1))
    section = report(results, args)
    print("\n" + section)
    if args.write_doc:
        replace_section(args.write_doc, "Privacy", section)


if __name__ == "__main__":
    main()
