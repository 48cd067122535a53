"""Write the load test's section of docs/PERFORMANCE.md from the runs' results.json files.

    python -m scripts.load.report [--runs docs/load]

Reads RUNS/step, RUNS/soak and RUNS/failure (any that exist; scripts/load/run.py writes them).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts.bench.common import replace_section  # noqa: E402

HEADING = "Load test (Locust)"
WEB = ("web1", "web2")
PAGE_P95_MS, API_P95_MS = 500, 200


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _cores(cores: dict) -> str:
    web = sum(cores.get(name, 0) for name in WEB)
    return (f"{web:.2f} | {cores.get('postgres', 0):.2f} | {cores.get('redis', 0):.2f} | "
            f"{cores.get('nginx', 0):.2f} | {cores.get('locust', 0):.2f} | {cores.get('other', 0):.2f}")


def _outcome(error: str) -> str:
    """A failure's kind, for people: the status, or what went wrong without one."""
    found = re.search(r"(?:answered |\(')(\d{1,3})\b", error)
    if "HTTPParseError" in error:
        return "answer cut off mid-stream"
    if found and found.group(1) == "0":
        return "no answer (Locust's 60 s timeout or connection error)"
    if found:
        return f"status {found.group(1)}"
    return error[:80]


def _failure_rows(failures: list[dict], limit: int = 12) -> list[str]:
    """Failures grouped by request and kind, most frequent first."""
    counts: dict[tuple[str, str], int] = {}
    for f in failures:
        key = (f"{f['method']} {f['name']}", _outcome(f["error"]))
        counts[key] = counts.get(key, 0) + f["count"]
    rows = sorted(counts.items(), key=lambda item: -item[1])
    return ["| request | what | count |", "| --- | --- | ---: |"] + [
        f"| {name} | {what} | {count:,} |" for (name, what), count in rows[:limit]] + (
        [f"| … {len(rows) - limit} more | | {sum(c for _k, c in rows[limit:]):,} |"] if len(rows) > limit else [])


def _ms(value) -> str:
    return "–" if value is None else f"{value:,}"


def step_section(step: dict, runs: str) -> list[str]:
    lines = [f"### Step load ({step['date']})", "",
             f"Steps of {step['step_seconds']} s (the first {step['settle_seconds']} s of each not counted), "
             f"Locust master and {step['workers']} workers on the same machine. Load average "
             f"{step['load_before']:.1f} before, {step['load_after']:.1f} after. CPU in cores (1.0 = one core busy); "
             "\"other\" is everything else on the machine (other people's tests and benchmarks).", "",
             "| users | requests/s | p50 ms | p95 ms | pages p95 | API p95 | sign-in p95 | errors | "
             "gunicorn | PostgreSQL | Redis | nginx | Locust | other | load avg |",
             "|" + " ---: |" * 14 + " --- |"]
    for s in step["steps"]:
        c = s["cores"]
        lines.append(f"| {s['users']:,} | {s['rps']} | {_ms(s['p50'])} | {_ms(s['p95'])} | {_ms(s['page']['p95'])} | "
                     f"{_ms(s['api']['p95'])} | {_ms(s['sign-in']['p95'])} | {s['errors']} | {_cores(c)} | "
                     f"{c.get('load1_min', 0)}–{c.get('load1_max', 0)} |")
    lines += ["", f"![Step load: users against p50/p95, requests/s and errors]({runs}/step/step.svg)", "",
              f"Locust's report: [{runs}/step/report.html]({runs}/step/report.html); CSV: `{runs}/step/locust_*.csv`.",
              ""]
    return lines


def soak_section(soak: dict, runs: str) -> list[str]:
    s, c = soak["steady"], soak["cores"]
    page_ok = s["page"]["p95"] is not None and s["page"]["p95"] <= PAGE_P95_MS
    api_ok = s["api"]["p95"] is not None and s["api"]["p95"] <= API_P95_MS
    check = soak["database_check"]
    lines = [f"### {soak['users']:,} users for {soak['minutes']:g} minutes ({soak['date']})", "",
             f"Ramp-up {soak['ramp_seconds']:.0f} s (not counted), then {soak['minutes']:g} minutes measured. "
             f"Load average {soak['load_before']:.1f} before, {c.get('load1_min', 0)}–{c.get('load1_max', 0)} "
             f"during, {soak['load_after']:.1f} after.", "",
             "| | requests | errors | requests/s | p50 ms | p95 ms | threshold | met |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
             f"| pages | {s['page']['requests']:,} | {s['page']['errors']:,} | | {_ms(s['page']['p50'])} | "
             f"{_ms(s['page']['p95'])} | p95 ≤ {PAGE_P95_MS} ms, 0 errors | "
             f"{'yes' if page_ok and not s['page']['errors'] else 'no'} |",
             f"| API | {s['api']['requests']:,} | {s['api']['errors']:,} | | {_ms(s['api']['p50'])} | "
             f"{_ms(s['api']['p95'])} | p95 ≤ {API_P95_MS} ms, 0 errors | "
             f"{'yes' if api_ok and not s['api']['errors'] else 'no'} |",
             f"| sign-in steps | {s['sign-in']['requests']:,} | {s['sign-in']['errors']:,} | | "
             f"{_ms(s['sign-in']['p50'])} | "
             f"{_ms(s['sign-in']['p95'])} | | |",
             f"| all | {s['requests']:,} | {s['errors']:,} | {s['rps']} | {_ms(s['p50'])} | {_ms(s['p95'])} | | |", "",
             "CPU during the measured minutes (cores): gunicorn (both instances) | PostgreSQL | Redis | nginx | "
             f"Locust | other: {_cores(c).replace(' | ', ' · ')}; the machine was "
             f"{c.get('machine', 0):.2f} of 2 cores busy.", "",
             f"Database after the run: {check['confirmed_decisions']:,} decisions confirmed to simulated people, "
             f"{check['lost']} lost, {check['confirmed_twice'] + check['audited_twice']} made twice, "
             f"{check['decided_without_audit_entry']} decided without their audit entry.", ""]
    if soak["failures"]:
        lines += ["Failures by request:", "", *_failure_rows(soak["failures"]), ""]
    lines += [f"Locust's report: [{runs}/soak/report.html]({runs}/soak/report.html); CSV: `{runs}/soak/locust_*.csv`.",
              ""]
    return lines


def failure_section(run: dict, runs: str) -> list[str]:
    check = run["database_check"]
    lines = [f"### Failure under load ({run['date']})", "",
             f"{run['users']:,} users for {run['minutes']:g} minutes; {run['whole_run']['requests']:,} requests, "
             f"{run['whole_run']['errors']} failed; load average {run['load_before']:.1f} before, "
             f"{run['load_after']:.1f} after. Errors counted in the 60 s after each event; \"recovered\" is the "
             "time from the event to the last failed request in that minute.", "",
             "| at (s) | event | took | errors after it | requests in that minute | recovered after | "
             "p95 the minute before | p95 the minute after |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for f in run["faults"]:
        lines.append(f"| {f['at_s']} | `stack.sh {f['what']}` | {f['took_s']} s | {f['errors']} | {f['requests']:,} | "
                     f"{f['recovered_after_s']} s | {_ms(f.get('p95_before_ms'))} ms | "
                     f"{_ms(f.get('p95_after_ms'))} ms |")
    lines += ["", f"Database after the run: {check['confirmed_decisions']:,} decisions confirmed, "
              f"{check['lost']} lost, "
              f"{check['confirmed_twice'] + check['audited_twice']} made twice, "
              f"{check['decided_without_audit_entry']} decided without their audit entry.", ""]
    if run["failures"]:
        lines += [*_failure_rows(run["failures"]), ""]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", default="docs/load")
    parser.add_argument("--notes", default="scripts/load/notes.md", help="hand-written findings appended")
    args = parser.parse_args()
    runs = Path(args.runs)
    relative = runs.relative_to("docs") if runs.parts[0] == "docs" else runs
    lines = [f"## {HEADING}", "",
             "The production topology on this 2-core machine (nginx with TLS, two gunicorn instances of 3 sync "
             "workers, PostgreSQL, Redis, the jobs worker) under Locust in distributed mode; how it is run: "
             "[LOAD_TESTING.md](LOAD_TESTING.md). `python -m scripts.load.report` writes this section from the "
             "runs' results.", ""]
    for name, section in (("step", step_section), ("soak", soak_section), ("failure", failure_section)):
        result = _load(runs / name / "results.json")
        if result:
            lines += section(result, str(relative))
    notes = Path(args.notes)
    if notes.exists():
        lines += [notes.read_text().rstrip("\n"), ""]
    replace_section(ROOT / "docs" / "PERFORMANCE.md", HEADING, "\n".join(lines))
    print(f"wrote the section {HEADING!r} of docs/PERFORMANCE.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
