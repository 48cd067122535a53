"""The dashboard (and the console's lists) with 1M transactions and 10M audit entries.

    .venv/bin/python scripts/bench/dashboard.py [--transactions 1000000] [--audit 10000000] [--keep]

Bulk-generates the rows in SQL (generate_series) in the database saintara_bench_dashboard,
then times requests server-side (the whole WSGI call: queries, template, response) for
each role: with the dashboard cache warm, with it cleared before every request, and the
naive way (no cache and without the indexes this feature added). Prints p50/p95/max in ms.
The generated audit rows carry placeholder hashes: the chain is not what is measured here.
Their actors' addresses are sealed under each actor's key, as the portal stores them: the
dashboard's recent activity and the settings history reveal them on every request.
"""

from __future__ import annotations

import argparse
import os
import re
import time

from common import (
    REDIS_URL,
    LoadRecorder,
    bench_database,
    bench_lock,
    make_app,
    median,
    percentile,
    raise_page_limit,
    unrevealed,
)

from app.extensions import db

DATABASE = "saintara_bench_dashboard"
INSTITUTIONS = 50
CUSTOMERS = 100_000
APPROVALS = 50_000
ACTORS = 500  # the audit entries' actors: user ids 1 to 500
PASSWORD = "bench passphrase for the dashboard"  # noqa: S105 (a throwaway account in a scratch database)
CONSOLE_INDEXES = {  # the dashboard's indexes (0005_console; the audit one is 0002's); dropped for the naive run
    "ix_audit_logs_action": "audit_logs (action, created_at, id)",
    "ix_transactions_status_created_at": "transactions (status, created_at)",
    "ix_transactions_institution_id_created_at": "transactions (institution_id, created_at)",
    "ix_approvals_decided_at": "approvals (decided_at)",
}


def sql(statement: str, **params) -> None:
    db.session.execute(db.text(statement), params)


def generate(transactions: int, audit_entries: int) -> None:
    """Institutions, customers, transactions, approvals and audit entries, in bulk SQL."""
    started = time.perf_counter()
    sql("SET LOCAL synchronous_commit = off")
    sql("INSERT INTO institutions (code, name, is_active) SELECT 'B' || lpad(n::text, 4, '0'), "
        "'Bench Institution ' || n, true FROM generate_series(1, :n) AS n", n=INSTITUTIONS)
    sql("INSERT INTO customers (institution_id, full_name, email, phone, created_at) "
        "SELECT n % :i + 1, 'Customer ' || n, 'customer' || n || '@contoh.co.id', '+62 811 ' || n, "
        "now() - (random() * interval '365 days') FROM generate_series(1, :n) AS n",
        i=INSTITUTIONS, n=CUSTOMERS)
    db.session.commit()
    print(f"  institutions and {CUSTOMERS:,} customers: {time.perf_counter() - started:.0f} s", flush=True)
    # About 2% of the transactions wait for a decision; the others were decided a little later.
    sql("SET LOCAL synchronous_commit = off")
    sql("""
        INSERT INTO transactions (reference, customer_id, institution_id, amount_idr, description, status,
                                  created_at, decided_at, decision_reason, version)
        SELECT 'TRX-B-' || lpad(n::text, 8, '0'), c, c % :i + 1, (10 + floor(random() * 10000)) * 1000,
               'Bench payment', s, t, CASE WHEN s = 'pending' THEN NULL ELSE t + interval '2 hours' END,
               CASE WHEN s = 'rejected' THEN 'Bench rejection' END, CASE WHEN s = 'pending' THEN 1 ELSE 2 END
        FROM (SELECT n, (n % :c) + 1 AS c, now() - (random() * interval '365 days') AS t,
                     CASE WHEN random() < 0.02 THEN 'pending' WHEN random() < 0.85 THEN 'approved'
                          ELSE 'rejected' END AS s
              FROM generate_series(1, :n) AS n) AS g""", i=INSTITUTIONS, c=CUSTOMERS, n=transactions)
    sql("""
        INSERT INTO approvals (kind, subject_type, subject_id, subject_repr, institution_id, summary, payload,
                               status, requested_at, decided_at, reason, version)
        SELECT 'refund', 'customer', n::text, 'customer #' || n, n % :i + 1, 'Bench refund ' || n, '{}', s, t,
               CASE WHEN s = 'pending' THEN NULL ELSE t + interval '5 hours' END, NULL,
               CASE WHEN s = 'pending' THEN 1 ELSE 2 END
        FROM (SELECT n, now() - (random() * interval '365 days') AS t,
                     CASE WHEN random() < 0.05 THEN 'pending' WHEN random() < 0.8 THEN 'approved'
                          ELSE 'rejected' END AS s
              FROM generate_series(1, :n) AS n) AS g""", i=INSTITUTIONS, n=APPROVALS)
    db.session.commit()
    print(f"  {transactions:,} transactions and {APPROVALS:,} approvals: {time.perf_counter() - started:.0f} s",
          flush=True)
    # Each actor's address sealed under their own key (made by the vault, as on the first entry).
    from app.personal_data import vault

    sealed_emails = [vault.seal("user", n + 1, f"user{n}@bench.saintara.id", max_length=254) for n in range(ACTORS)]
    db.session.commit()
    # The audit log: indexes are dropped for the load and built again afterwards (much faster).
    indexes = db.session.execute(db.text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_logs' AND indexname <> 'pk_audit_logs'"
    )).all()
    for name, _definition in indexes:
        sql(f'DROP INDEX "{name}"')
    db.session.commit()
    chunk = 1_000_000
    for start in range(0, audit_entries, chunk):
        sql("SET LOCAL synchronous_commit = off")
        # One year of history, oldest first; about 1% failed sign-ins, as many successful ones
        # as decisions, and the rest changes of every kind.
        sql("""
            INSERT INTO audit_logs (created_at, actor_id, actor_email, action, resource_type, resource_id,
                                    resource_repr, institution_id, description, result, prev_hash, hash)
            SELECT now() - interval '365 days' + (n::float / :total) * interval '365 days', n % :a + 1,
                   (CAST(:emails AS text[]))[n % :a + 1],
                   (ARRAY['LOGIN_FAILURE','LOGIN_SUCCESS','LOGIN_SUCCESS','TRANSACTION_APPROVE',
                          'TRANSACTION_APPROVE','TRANSACTION_REJECT','APPROVAL_APPROVE','CUSTOMER_UPDATE',
                          'INSTITUTION_UPDATE','SETTINGS_UPDATE'])[CASE WHEN n % 100 = 0 THEN 1
                                                               ELSE n % 9 + 2 END],
                   'transaction', (n % 1000000)::text, 'TRX-B-' || n, CASE WHEN n % 3 = 0 THEN NULL
                                                                          ELSE n % :i + 1 END,
                   'bench entry', CASE WHEN n % 100 = 0 THEN 'failure' ELSE 'success' END,
                   md5(n::text) || md5((n + 1)::text), md5((n + 1)::text) || md5(n::text)
            FROM generate_series(:first, :last) AS n""",
            total=audit_entries, i=INSTITUTIONS, first=start + 1, last=min(start + chunk, audit_entries),
            a=ACTORS, emails=sealed_emails)
        db.session.commit()
        print(f"  {min(start + chunk, audit_entries):,} audit entries: {time.perf_counter() - started:.0f} s",
              flush=True)
    sql("SET maintenance_work_mem = '512MB'")
    for _name, definition in indexes:
        sql(definition)
    db.session.commit()
    print(f"  audit indexes built: {time.perf_counter() - started:.0f} s", flush=True)
    connection = db.engine.raw_connection()
    connection.set_isolation_level(0)
    connection.cursor().execute("VACUUM ANALYZE")
    connection.close()
    print(f"  vacuum analyze: {time.perf_counter() - started:.0f} s", flush=True)


def signed_in_client(app, email: str):
    from tests.conftest import FormClient, RequestIsolatedClient

    app.test_client_class = RequestIsolatedClient
    forms = FormClient(app.test_client())
    response = forms.post("/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return forms.client


def timed(client, url: str, count: int, before=None) -> list[float]:
    """Server-side milliseconds of ``count`` requests (the WSGI call, body included)."""
    samples = []
    for _ in range(count):
        if before:
            before()
        started = time.perf_counter()
        response = client.get(url)
        response.get_data()
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return samples


LOADS = LoadRecorder()


def report(label: str, samples: list[float]) -> None:
    print(f"{label:<72} {median(samples):>8.1f} {percentile(samples, 0.95):>8.1f} {max(samples):>8.1f} "
          f"{LOADS.sample():>6.1f}", flush=True)


def check_revealed(client) -> None:
    """The dashboard's recent activity shows its actors' addresses, stored sealed, in clear."""
    stored = db.session.execute(db.text("SELECT actor_email FROM audit_logs ORDER BY id DESC LIMIT 10")).scalars()
    sealed = sum(value.startswith("s1~") for value in stored)
    body = client.get("/dashboard").get_data(as_text=True)
    shown = re.findall(r"user\d+@bench\.saintara\.id", body)
    if not sealed or not shown or "s1~" in body:
        raise SystemExit(f"the dashboard does not reveal its sealed entries ({sealed} of the ten newest sealed, "
                         f"{len(shown)} addresses shown, sealed text shown: {'s1~' in body})")
    print(f"recent activity: {sealed} of the ten newest entries stored sealed, shown as {shown[0]} and others\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--audit", type=int, default=10_000_000)
    parser.add_argument("--warm", type=int, default=200, help="requests per warm-cache measurement")
    parser.add_argument("--cold", type=int, default=40, help="requests per cold measurement")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--reuse", action="store_true", help="measure on the database a --keep run left")
    args = parser.parse_args()
    raise_page_limit()
    with bench_database(DATABASE, keep=args.keep, reuse=args.reuse) as (url, reused):
        app = make_app(url, redis=True)
        with app.app_context():
            from app.dashboard.cache import clear_dashboard_cache
            from app.extensions import cache
            from app.security.actor import Actor
            from app.users import services as users
            from app.users.models import Role

            if not reused:
                print(f"generating in {DATABASE} (load average {os.getloadavg()[0]:.1f})", flush=True)
                generate(args.transactions, args.audit)
                users.create_user(Actor.system("bench"), email="super@bench.saintara.id", display_name="Bench Super",
                                  role=Role.SUPERADMIN, password=PASSWORD)
                users.create_user(Actor.system("bench"), email="inst@bench.saintara.id", display_name="Bench Inst",
                                  role=Role.INSTITUTION_ADMIN, institution_id=7, password=PASSWORD)
                db.session.commit()
            sizes = db.session.execute(db.text(
                "SELECT (SELECT count(*) FROM transactions), (SELECT count(*) FROM audit_logs), "
                "pg_size_pretty(pg_database_size(current_database()))")).one()
            print(f"\n{sizes[0]:,} transactions, {sizes[1]:,} audit entries, database {sizes[2]}; "
                  f"cache on {REDIS_URL}; load average {os.getloadavg()[0]:.1f}\n")
            clients = {"superadmin": signed_in_client(app, "super@bench.saintara.id"),
                       "institution admin": signed_in_client(app, "inst@bench.saintara.id")}
            check_revealed(clients["superadmin"])
            print(f"{'request (server side, ms)':<72} {'p50':>8} {'p95':>8} {'max':>8} {'load':>6}")
            with bench_lock():
                LOADS.sample()
                for role, client in clients.items():
                    timed(client, "/dashboard", 3)  # warm up the connection pool and templates
                    report(f"/dashboard as {role}, cache warm", timed(client, "/dashboard", args.warm))
                    with unrevealed():  # what revealing the ten newest entries costs, at the same load
                        report(f"/dashboard as {role}, cache warm, not revealed",
                               timed(client, "/dashboard", args.warm))
                    report(f"/dashboard as {role}, after a decision (clear_dashboard_cache)",
                           timed(client, "/dashboard", args.cold, before=clear_dashboard_cache))
                    report(f"/dashboard as {role}, nothing cached (first request)",
                           timed(client, "/dashboard", args.cold, before=cache.clear))
                superadmin = clients["superadmin"]
                for url in ("/transactions", "/transactions?status=pending", "/transactions?sort=amount&order=desc",
                            "/transactions?amount_min=5000000&created_from=2026-01-01", "/approvals",
                            "/customers?sort=name", "/settings/history"):
                    report(f"{url} as superadmin", timed(superadmin, url, args.cold))
                with unrevealed():  # the history shows a page of entries, each actor revealed
                    report("/settings/history as superadmin, not revealed",
                           timed(superadmin, "/settings/history", args.cold))
            for name in CONSOLE_INDEXES:
                sql(f'DROP INDEX "{name}"')
            db.session.commit()
            print("\nnaive: nothing cached and without the dashboard's four indexes")
            with bench_lock():
                LOADS.sample()
                for role, client in clients.items():
                    report(f"/dashboard as {role}, naive",
                           timed(client, "/dashboard", max(5, args.cold // 4), before=cache.clear))
            for name, columns in CONSOLE_INDEXES.items():
                sql(f'CREATE INDEX "{name}" ON {columns}')
            db.session.commit()
            print(f"\n{time.strftime('%d %B %Y')}, 1-minute load average while timing: {LOADS.summary()}")
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
