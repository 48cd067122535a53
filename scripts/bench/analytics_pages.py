"""The analytics pages at 10M events: ours (the rollup tables) against the naive way (the same
pages answered from the raw events and the platform's rows), side by side in one run.

    .venv/bin/python scripts/bench/analytics_pages.py [--events 10000000] [--days 400] [--requests 30] [--keep]

Builds the database saintara_bench_hA (dropped afterwards unless --keep; --reuse measures on the
one a --keep run left): ``--events`` analytics events over ``--days`` local days, written with the
portal's own COPY writer (app.analytics.ingest.write_events), 1M payments and 200,000 approval
requests of 50 institutions over the same days (generate_series), then runs the rollups of every
day (``rollup_day`` with the raw retention lifted for the bench, ``rollup_platform_day``).

Then, holding the shared bench lock, times every analytics page as a signed-in superadmin through
the whole portal (test client: access check, queries, template, response), for the last 30 and 366
days: ``--warmup`` requests, then ``--requests`` timed ones (``--naive-requests`` for the naive way,
whose 366-day pages take seconds). The naive way swaps app.insights.queries' functions for ones
that read analytics_events, transactions and approvals (count(DISTINCT), percentile_cont), so the
template, the access check and the response are the same. Prints p50/p95/max in ms and writes the
figures to docs/PERFORMANCE.md, section "Analytics pages".
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

from common import (
    ROOT,
    LoadRecorder,
    bench_database,
    bench_lock,
    make_app,
    median,
    percentile,
    raise_page_limit,
    replace_section,
)

from app.extensions import db

DATABASE = "saintara_bench_hA"
INSTITUTIONS = 50
CUSTOMERS = 50_000
TRANSACTIONS = 1_000_000
PASSWORD = "bench passphrase for the analytics pages"  # noqa: S105 (a throwaway account in a scratch database)
ZONE = ZoneInfo("Asia/Jakarta")
ROLES = ("admin", "admin", "institution_admin", "institution_admin", "institution_admin", "customer", "superadmin")
PATHS = [f"/area{a}/page{p}" for a in range(12) for p in range(5)] + ["/", "/customers", "/transactions",
                                                                     "/approvals", "/customers/<int:customer_id>"]
ACTIONS = ("approval_decided", "transaction_decided", "import_done", "csv_export_clicked", "print_clicked",
           "jump_opened")
PAGES = [("visitors", "/analytics/"), ("top pages", "/analytics/pages"), ("adoption", "/analytics/adoption"),
         ("funnel", "/analytics/funnel"), ("retention", "/analytics/retention"),
         ("platform (days)", "/analytics/platform"), ("platform (weeks)", "/analytics/platform?interval=week")]


def sql(statement: str, **params):
    return db.session.execute(db.text(statement), params)


def day_events(day: date, count: int, rng: random.Random) -> list[tuple]:
    """One local day's events as the buffer holds them: mostly page views of ~2,000 visitors,
    named actions, and the funnel's and retention's milestones with their properties."""
    noon = datetime.combine(day, clock(0), ZONE).astimezone(UTC).timestamp()
    iso, joined = day.isoformat(), day - timedelta(days=rng.randrange(0, 120))
    events = []
    for _ in range(count):
        at, person = noon + rng.random() * 86_400, rng.randrange(2000)
        visitor, role = f"{person:032x}", ROLES[person % len(ROLES)]  # one role per person
        kind = rng.random()
        if kind < 0.9:
            events.append((at, iso, "page_view", PATHS[int(rng.paretovariate(1.2)) % len(PATHS)], role, visitor, None))
        elif kind < 0.98:
            events.append((at, iso, rng.choice(ACTIONS), None, role, visitor, None))
        elif kind < 0.985:
            events.append((at, iso, "invitation_sent", None, role, visitor, {"role": "admin"}))
        elif kind < 0.9875:
            events.append((at, iso, "invitation_accepted", None, role, visitor,
                           {"seconds": int(rng.lognormvariate(10, 1.5))}))
        elif kind < 0.99:
            events.append((at, iso, "two_factor_enrolled", None, role, visitor,
                           {"seconds": int(rng.lognormvariate(7, 2)), "method": "totp"}))
        elif kind < 0.992:
            events.append((at, iso, "first_action", None, role, visitor,
                           {"seconds": int(rng.lognormvariate(9, 2)), "action": "approval_decided"}))
        else:
            joined_day = joined - timedelta(days=rng.randrange(0, 84))
            year, week, _ = joined_day.isocalendar()
            events.append((at, iso, "active_week", None, role, visitor,
                           {"joined_week": year * 100 + week, "weeks_since_joined": (day - joined_day).days // 7}))
    return events


def generate(events: int, days: int, today: date, transactions: int) -> None:
    """The events (COPY, a day at a time), then the platform's rows (bulk SQL), then VACUUM ANALYZE."""
    from app.analytics.ingest import write_events

    started, rng = time.perf_counter(), random.Random(15)
    per_day = events // days
    for n in range(days):
        day = today - timedelta(days=days - 1 - n)
        write_events(db.session, day_events(day, per_day + (1 if n < events % days else 0), rng))
        db.session.commit()
        if n % 50 == 49:
            print(f"  {(n + 1) * per_day:,} events: {time.perf_counter() - started:.0f} s", flush=True)
    sql("SET LOCAL synchronous_commit = off")
    sql("INSERT INTO institutions (code, name, is_active) SELECT 'B' || lpad(n::text, 4, '0'), "
        "'Bench Institution ' || n, true FROM generate_series(1, :n) AS n", n=INSTITUTIONS)
    sql("INSERT INTO customers (institution_id, full_name, email, created_at) SELECT n % :i + 1, 'Customer ' || n, "
        "'customer' || n || '@contoh.co.id', now() FROM generate_series(1, :n) AS n", i=INSTITUTIONS, n=CUSTOMERS)
    sql("""INSERT INTO transactions (reference, customer_id, institution_id, amount_idr, status, created_at,
                                     decided_at, version)
           SELECT 'TRX-B-' || lpad(n::text, 8, '0'), c, c % :i + 1, (10 + floor(random() * 10000)) * 1000,
                  'approved', t, t + interval '2 hours', 2
           FROM (SELECT n, n % :c + 1 AS c, now() - random() * make_interval(days => :d) AS t
                 FROM generate_series(1, :n) AS n) AS g""",
        i=INSTITUTIONS, c=CUSTOMERS, n=transactions, d=days)
    sql("""INSERT INTO approvals (kind, subject_type, subject_id, subject_repr, institution_id, summary, payload,
                                  status, requested_at, decided_at, version)
           SELECT 'refund', 'customer', n::text, 'customer #' || n, n % :i + 1, 'Bench refund', '{}',
                  'approved', t, t + exp(6 + random() * 6) * interval '1 second', 2
           FROM (SELECT n, now() - random() * make_interval(days => :d) AS t FROM generate_series(1, :n) AS n) AS g
           """, i=INSTITUTIONS, n=transactions // 5, d=days)
    db.session.commit()
    print(f"  platform rows: {time.perf_counter() - started:.0f} s", flush=True)
    connection = db.engine.raw_connection()
    connection.set_isolation_level(0)
    connection.cursor().execute("VACUUM ANALYZE")
    connection.close()
    print(f"  vacuum analyze: {time.perf_counter() - started:.0f} s", flush=True)


def roll_up(days: int, today: date) -> float:
    """Every day's rollups; the raw retention (90 days by default) is lifted so all days count."""
    from app.analytics import rollup
    from app.analytics.platform_rollup import rollup_platform_day

    started = time.perf_counter()
    saved, rollup.raw_cutoff = rollup.raw_cutoff, lambda _today: date.min
    try:
        for n in range(days + 1):  # the platform's rows reach back into one more local day
            day = today - timedelta(days=n)
            rollup.rollup_day(day, today=today)
            rollup_platform_day(day)
            db.session.commit()
    finally:
        rollup.raw_cutoff = saved
    return time.perf_counter() - started


# --- the naive way: the same page data, from the raw rows -----------------------------------------

def _naive_overview(period):
    from app.insights.queries import DayFigures

    found = {row[0]: row for row in sql(
        "SELECT day, count(*) FILTER (WHERE name = 'page_view'), count(DISTINCT visitor), count(*) "
        "FROM analytics_events WHERE day BETWEEN :a AND :b GROUP BY day", a=period.first, b=period.last)}
    return [DayFigures(d, found[d][1], found[d][2], found[d][3]) if d in found else DayFigures(d, 0, 0, 0)
            for d in period.days]


def _naive_pages(period, limit=50):
    return [tuple(r) for r in sql(
        "SELECT path, sum(v), sum(n) FROM (SELECT day, path, count(*) AS v, count(DISTINCT visitor) AS n "
        "FROM analytics_events WHERE name = 'page_view' AND day BETWEEN :a AND :b GROUP BY day, path) AS d "
        "GROUP BY path ORDER BY 2 DESC, path LIMIT :l", a=period.first, b=period.last, l=limit)]


def _naive_adoption(period):
    from app.analytics.catalogue import BY_NAME, ROLES, Kind

    rows = {}
    for name, role, events, visitors in sql(
            "SELECT name, role, sum(e), sum(v) FROM (SELECT day, name, coalesce(role, '') AS role, count(*) AS e, "
            "count(DISTINCT visitor) AS v FROM analytics_events WHERE name <> 'page_view' AND day BETWEEN :a AND :b "
            "GROUP BY day, name, role) AS d GROUP BY name, role", a=period.first, b=period.last):
        rows.setdefault(name, {})[role] = (int(events), int(visitors))
    return list(ROLES), [(name, rows.get(name, {})) for name, event in BY_NAME.items() if event.kind is not Kind.PAGE]


def _naive_funnel(period):
    from app.insights.queries import FUNNEL, FunnelStep

    found = {}
    for name, count, med, timed in sql(
            "SELECT name, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY (properties->>'seconds')::int), "
            "count(properties->>'seconds') FROM analytics_events WHERE name = ANY(:names) AND day BETWEEN :a AND :b "
            "GROUP BY name", names=list(FUNNEL), a=period.first, b=period.last):
        found[name] = (count, med, timed)
    steps, previous = [], None
    for name in FUNNEL:
        count, med, timed = found.get(name, (0, None, 0))
        steps.append(FunnelStep(name, count, count / previous if previous else None, med, timed))
        previous = count
    return steps


def _naive_retention(period):
    from app.insights.queries import COHORT_WEEKS, Cohort

    table = {}
    for joined, since, events in sql(
            "SELECT (properties->>'joined_week')::int, (properties->>'weeks_since_joined')::int, count(*) "
            "FROM analytics_events WHERE name = 'active_week' AND day BETWEEN :a AND :b "
            "AND (properties->>'weeks_since_joined')::int < :w GROUP BY 1, 2", a=period.first, b=period.last,
            w=COHORT_WEEKS):
        table.setdefault(joined, [0] * COHORT_WEEKS)[since] = events
    return [Cohort(joined, weeks) for joined, weeks in sorted(table.items(), reverse=True)]


def _naive_platform(period, interval):
    from app.inputs import day_bounds
    from app.insights.queries import InstitutionFigures, interval_start

    start, end = day_bounds(period.first, period.last, "Asia/Jakarta")
    per_interval = {interval_start(d, interval): [0, 0] for d in period.days}
    per_institution = defaultdict(lambda: [0, 0, 0, None, None])
    for day, inst, count, volume in sql(
            "SELECT (created_at AT TIME ZONE 'Asia/Jakarta')::date, institution_id, count(*), sum(amount_idr) "
            "FROM transactions "
            "WHERE created_at >= :s AND created_at < :e GROUP BY 1, 2", s=start, e=end):
        key = interval_start(day, interval)
        per_interval[key][0] += count
        per_interval[key][1] += int(volume)
        per_institution[inst][0] += count
        per_institution[inst][1] += int(volume)
    for inst, decided, p50, p95 in sql(
            "SELECT coalesce(institution_id, 0), count(*), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM decided_at - requested_at)), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM decided_at - requested_at)) "
            "FROM approvals WHERE decided_at >= :s AND decided_at < :e AND status <> 'pending' GROUP BY 1",
            s=start, e=end):
        per_institution[inst][2:] = [decided, p50, p95]
    names = dict(sql("SELECT id, name FROM institutions").all())
    rows = sorted((InstitutionFigures(inst, names.get(inst, ""), *values) for inst, values in per_institution.items()),
                  key=lambda r: (-r.volume_idr, r.name))
    return rows, [(s, v[0], v[1]) for s, v in sorted(per_interval.items())]


NAIVE = {"overview": _naive_overview, "top_pages": _naive_pages, "adoption": _naive_adoption,
         "funnel": _naive_funnel, "retention": _naive_retention, "platform": _naive_platform}


@contextmanager
def naive_queries():
    """The naive way: the raw-row functions, and no figure cache (every request computes)."""
    from app.insights import queries, routes

    saved = {name: getattr(queries, name) for name in NAIVE}
    saved_figures = routes.figures
    for name, function in NAIVE.items():
        setattr(queries, name, function)
    routes.figures = lambda _page, _period, compute, _interval="day": compute()
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(queries, name, function)
        routes.figures = saved_figures


def timed_cold(signed_in: SignedIn, url: str, count: int) -> list[float]:
    """Requests each made with the figure cache emptied first (a new rollup generation): the first
    request of a period after a rollup."""
    from app.analytics.figures import clear_rollup_figures

    samples = []
    for _ in range(count):
        clear_rollup_figures()
        samples += timed(signed_in, url, 1)
    return samples


def analyze_rollups() -> None:
    """ANALYZE the rollup tables (autovacuum may be off on a bench machine; in production it keeps the
    planner's row estimates, without which a year's histogram rows sort on disk)."""
    sql("ANALYZE analytics_daily, analytics_day_totals, analytics_durations, analytics_cohort_weeks, "
        "platform_daily, platform_turnaround_daily, platform_turnaround_monthly")
    db.session.commit()


# --- timing ---------------------------------------------------------------------------------------

class SignedIn:
    """A test client signed in as the bench superadmin; it signs in again (untimed) when the session
    went away (another run on this machine may flush the Redis index the sessions live in)."""

    def __init__(self, app, email: str) -> None:
        from tests.conftest import RequestIsolatedClient

        app.test_client_class = RequestIsolatedClient
        self.app, self.email = app, email
        self.sign_in()

    def sign_in(self) -> None:
        from tests.conftest import FormClient

        forms = FormClient(self.app.test_client())
        response = forms.post("/login", {"email": self.email, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        self.client = forms.client

    def get(self, url: str):
        return self.client.get(url)


def timed(signed_in: SignedIn, url: str, count: int) -> list[float]:
    samples = []
    while len(samples) < count:
        started = time.perf_counter()
        response = signed_in.get(url)
        response.get_data()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
            signed_in.sign_in()  # the session was flushed away: not a sample
            continue
        assert response.status_code == 200, (url, response.status_code)
        samples.append(elapsed)
    return samples


def with_range(url: str, days: int) -> str:
    return url + ("&" if "?" in url else "?") + f"range={days}"


def same_figures(client, url: str) -> None:
    """Ours and the naive way give the same page (counts exact; medians/percentiles within 2.5 %)."""
    target = with_range(url, 366) + "&format=csv"
    timed_cold(client, target, 1)  # signs in again first if the session went away
    ours = client.get(target).get_data(as_text=True).splitlines()
    with naive_queries():
        naive = client.get(target).get_data(as_text=True).splitlines()
    if "funnel" in url or "platform" in url:
        ours, naive = [r.split(",")[:3] for r in ours], [r.split(",")[:3] for r in naive]
    if ours != naive:
        raise SystemExit(f"{url}: the rollups and the raw rows disagree:\n{ours[:5]}\n{naive[:5]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--transactions", type=int, default=TRANSACTIONS, help="payments (approval requests: a fifth)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--naive-requests", type=int, default=5)
    parser.add_argument("--cold-requests", type=int, default=10,
                        help="requests each with the figure cache emptied first")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--reuse", action="store_true", help="measure on the database a --keep run left")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/PERFORMANCE.md alone")
    args = parser.parse_args()
    raise_page_limit()
    loads = LoadRecorder()
    with bench_database(DATABASE, keep=args.keep, reuse=args.reuse) as (url, reused):
        app = make_app(url, redis=True)
        with app.app_context():
            from app.analytics.visitors import local_day
            from app.database import utcnow
            from app.security.actor import Actor
            from app.users import services as users
            from app.users.models import Role

            today = local_day(utcnow())
            rollup_seconds = None
            if not reused:
                print(f"generating in {DATABASE} (load average {os.getloadavg()[0]:.1f})", flush=True)
                generate(args.events, args.days, today, args.transactions)
                rollup_seconds = roll_up(args.days, today)
                print(f"  rollups of {args.days} days: {rollup_seconds:.0f} s", flush=True)
                users.create_user(Actor.system("bench"), email="super@bench.saintara.id", display_name="Bench Super",
                                  role=Role.SUPERADMIN, password=PASSWORD)
                db.session.commit()
            sizes = sql("SELECT (SELECT count(*) FROM analytics_events), (SELECT count(*) FROM analytics_daily), "
                        "(SELECT count(*) FROM transactions), (SELECT count(*) FROM approvals), "
                        "pg_size_pretty(pg_database_size(current_database()))").one()
            print(f"\n{sizes[0]:,} events ({sizes[1]:,} analytics_daily rows), {sizes[2]:,} payments, "
                  f"{sizes[3]:,} approval requests; database {sizes[4]}\n")
            analyze_rollups()
            client = SignedIn(app, "super@bench.saintara.id")
            for _label, page in PAGES:
                same_figures(client, page)
            results = []
            header = (f"{'page':<18} {'days':>4} {'cold p50':>9} {'p95':>7} {'warm p50':>9} {'p95':>7} "
                      f"{'naive p50':>10} {'p95':>8} {'ratio':>6}")
            print(header)
            with bench_lock():
                loads.sample()
                for label, page in PAGES:
                    for days in (30, 366):
                        target = with_range(page, days)
                        timed(client, target, args.warmup)
                        cold = timed_cold(client, target, args.cold_requests)
                        timed(client, target, 1)
                        ours = timed(client, target, args.requests)
                        with naive_queries():
                            timed(client, target, 1)
                            naive = timed(client, target, args.naive_requests)
                        loads.sample()
                        row = (label, days, median(cold), percentile(cold, 0.95), median(ours),
                               percentile(ours, 0.95), median(naive), percentile(naive, 0.95))
                        results.append(row)
                        print(f"{label:<18} {days:>4} {row[2]:>9.1f} {row[3]:>7.1f} {row[4]:>9.1f} {row[5]:>7.1f} "
                              f"{row[6]:>10.1f} {row[7]:>8.1f} {row[6] / row[2]:>5.0f}x", flush=True)
            stamp = time.strftime("%d %B %Y")
            print(f"\n{stamp}, 1-minute load average while timing: {loads.summary()}")
            if not args.no_write:
                write_section(results, sizes, args, loads, stamp, rollup_seconds)
        with app.app_context():
            db.engine.dispose()


BEFORE = ("Before the figure cache, the weekly charts over 90 days, the per-table formatter and the monthly "
          "turnaround rows (the same script on the same database, 06 December 2026, load 6.7 to 8.5, every request "
          "computing its figures, rollup tables not ANALYZEd), the 366-day pages took p50 / p95: visitors "
          "573 / 880 ms, top pages 166 / 219, funnel 327 / 560, platform (days) 473 / 702, platform (weeks) "
          "462 / 687.")


def write_section(results, sizes, args, loads, stamp, rollup_seconds) -> None:
    worst_cold, worst_warm = max(row[3] for row in results), max(row[5] for row in results)
    lines = [
        "## Analytics pages",
        "",
        f"`scripts/bench/analytics_pages.py` ({stamp}; 2 cores shared with other work, 1-minute load average "
        f"{loads.summary()} while timing; timed under the shared bench lock). Database: {sizes[0]:,} analytics "
        f"events over {args.days} local days ({sizes[1]:,} `analytics_daily` rows), {sizes[2]:,} payments and "
        f"{sizes[3]:,} approval requests of {INSTITUTIONS} institutions ({sizes[4]}).",
        "",
        f"Each page as a signed-in superadmin through the whole portal (in-process test client: access check, "
        f"queries, template, response), {args.warmup} warm-up requests, then {args.cold_requests} **cold** ones "
        f"(each after emptying the figure cache, as the first request of a period after a rollup: the rollup "
        f"queries run) and {args.requests} **warm** ones (the figures from the cache: template and response "
        f"only); the naive way answers the same pages from the raw rows (`analytics_events`, `transactions`, "
        f"`approvals`: count(DISTINCT), percentile_cont), without the figure cache, with {args.naive_requests} "
        f"timed requests. The rollup tables are ANALYZEd first (autovacuum is off on this machine).",
        "",
        "| page | days | cold p50 (ms) | cold p95 (ms) | warm p50 (ms) | warm p95 (ms) | naive p50 (ms) "
        "| naive p95 (ms) | naive / cold (p50) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, days, c50, c95, p50, p95, n50, n95 in results:
        lines.append(f"| {label} | {days} | {c50:.1f} | {c95:.1f} | {p50:.1f} | {p95:.1f} | {n50:.0f} | {n95:.0f} "
                     f"| {n50 / c50:.0f}x |")
    lines += [
        "",
        f"Worst p95: cold {worst_cold:.1f} ms, warm {worst_warm:.1f} ms (target: 200 ms at 10M events, "
        "366-day periods included). "
        "Before timing, the script checks that both ways give the same CSV of every page over 366 days "
        "(counts exact; medians and percentiles are read from 5 % histogram buckets, within 2.5 %).",
    ]
    lines.append(BEFORE)
    if rollup_seconds is not None:
        lines.append(f"Rolling up all {args.days} days (`rollup_day` and `rollup_platform_day` per day) took "
                     f"{rollup_seconds:.0f} s, about {rollup_seconds / args.days * 1000:.0f} ms a day.")
    lines.append("")
    replace_section(ROOT / "docs" / "PERFORMANCE.md", "Analytics pages", "\n".join(lines))
    print("written to docs/PERFORMANCE.md, section \"Analytics pages\"")


if __name__ == "__main__":
    main()
