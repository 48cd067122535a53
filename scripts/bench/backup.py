"""Backup and restore benchmark: ours against what the old shell scripts did, in one run.

Builds a PostgreSQL database of about 1 GB (``saintara_bench_backup``: the portal's schema,
filled with realistic rows), then, for each round, times:

  backup   pg_dump | gzip -6            the old scripts (plain SQL, gzip)
           pg_dump -Fc -Z0 > /dev/null  the floor: a custom-format dump that goes nowhere
           pg_dump -Fc -Z0 | zstd -3 -T2  the same work with the command-line tools, for reference
           ours                         pg_dump -Fc -Z0 | zstd (multi-threaded) -> artifact + manifest
           ours + verification          the above, then SHA-256 + full decode into pg_restore --list
  restore  gunzip | psql                the old scripts, into an empty database
           pg_restore                   a raw restore of a -Fc -Z0 file, into an empty database
           pg_restore -1 --clean        the same file with our flags (one transaction, over the live data)
           ours                         decode the artifact into pg_restore --single-transaction --clean
                                        over the live database, then compare counts (no safety backup)
           ours, full                   verify + safety backup + the above (what an operator waits for)

Prints medians and p95 (the slowest of few rounds) side by side, and the load average; docs/PERFORMANCE.md
("Backups") holds the figures of the last run. The database is dropped at the end.

    python scripts/bench/backup.py [--rounds 3] [--scale 0.65] [--keep] [--restore-only]

``--restore-only`` times just the restore comparison (raw ``pg_restore``, the same with our
flags, ours); each round's timing holds the machine-wide benchmark lock.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # (first: puts the project, not this folder, on the path)
import psycopg2
from psycopg2 import sql

BENCH_DB = "saintara_bench_backup"
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

FILL_SQL = """
INSERT INTO institutions (code, name)
SELECT 'B' || lpad(i::text, 5, '0'), 'Koperasi Bench ' || i FROM generate_series(1, 200) AS i;

INSERT INTO customers (institution_id, full_name, email, phone, created_at, updated_at)
SELECT (i % 200) + 1,
       (ARRAY['Siti','Budi','Agus','Dewi','Rina','Made','Putu','Ayu','Bayu','Sri'])[1 + i % 10] || ' ' ||
       (ARRAY['Santoso','Wijaya','Pratama','Lestari','Saputra','Hidayat','Kusuma','Nugroho'])[1 + (i / 10) % 8],
       'customer' || i || '@example.co.id', '+62 812 ' || lpad((i * 7919 % 100000000)::text, 8, '0'),
       now() - (i % 1000) * interval '1 hour', now()
FROM generate_series(1::bigint, {customers}) AS i;

INSERT INTO transactions (reference, customer_id, institution_id, amount_idr, description, status, created_at,
                          decided_at, decision_reason)
SELECT 'TRX-' || lpad(i::text, 10, '0'), c, (c % 200) + 1, 10000 + (i * 7919 % 50000000),
       (ARRAY['Pembayaran tagihan listrik','Transfer antar bank','Pembayaran sekolah','Cicilan kendaraan',
              'Pembelian barang dagangan','Pembayaran sewa','Top-up dompet digital'])[1 + i % 7]
         || ' #' || substr(md5(i::text), 1, 12),
       s, now() - (i % 5000) * interval '1 minute',
       CASE WHEN s = 'pending' THEN NULL ELSE now() END,
       CASE WHEN s = 'rejected' THEN 'Documents incomplete' END
FROM (SELECT i, 1 + (i * 104729 % {customers}) AS c,
             (ARRAY['approved','approved','approved','rejected','pending'])[1 + i % 5] AS s
      FROM generate_series(1::bigint, {transactions}) AS i) AS t;

INSERT INTO audit_logs (created_at, actor_id, actor_email, action, resource_type, resource_id, resource_repr,
                        institution_id, description, changes, ip, user_agent, result, prev_hash, hash)
SELECT now() - (i % 10000) * interval '1 minute', 1 + i % 5, 'operator' || (i % 5) || '@demo.saintara.id',
       'TRANSACTION_APPROVE', 'transaction', i::text, 'TRX-' || lpad(i::text, 10, '0'), (i % 200) + 1,
       'Approved TRX-' || lpad(i::text, 10, '0'),
       '{{"status": {{"before": "pending", "after": "approved"}}}}'::json, '10.20.0.' || (i % 250),
       'Mozilla/5.0 (bench)', 'success', md5(i::text) || md5((i + 1)::text), md5((i + 2)::text) || md5(i::text)
FROM generate_series(1, {audit}) AS i;
"""


def admin(*statements) -> None:
    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def recreate(name: str) -> None:
    admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
          sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop(name: str) -> None:
    admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def url_of(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def shell(command: str) -> float:
    """Run a shell pipeline (the old scripts' way); its wall time."""
    started = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True, env=tool_env())
    return time.perf_counter() - started


def tool_env() -> dict:
    base = ADMIN_URL.rsplit("/", 1)[0].removeprefix("postgresql://")
    user, _, hostport = base.rpartition("@")
    host, _, port = hostport.partition(":")
    return {**os.environ, "PGHOST": host, "PGPORT": port or "5432", "PGUSER": user or "postgres"}


def timed(func, *args) -> tuple[float, object]:
    started = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - started, result


def build(app, scale: float) -> int:
    from flask_migrate import upgrade

    from app.extensions import db

    with app.app_context():
        upgrade()
        counts = {"customers": int(600_000 * scale), "transactions": int(3_000_000 * scale),
                  "audit": int(800_000 * scale)}
        conn = db.engine.raw_connection()
        try:
            with conn.cursor() as cur:
                cur.execute(FILL_SQL.format(**counts))  # whole numbers only
            conn.commit()
        finally:
            conn.close()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
            return c.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()


def time_backups(app, work: Path, naive_file: Path, results: dict, sizes: dict) -> dict:
    """One round of the backup methods; returns our backup's manifest (the restores' input)."""
    from app.backups import ids, services

    results.setdefault("dump_gzip", []).append(shell(f"pg_dump {BENCH_DB} | gzip -6 > {naive_file}"))
    sizes["dump_gzip"] = naive_file.stat().st_size
    results.setdefault("dump_raw", []).append(shell(f"pg_dump -Fc -Z0 {BENCH_DB} > /dev/null"))
    results.setdefault("dump_zstd_cli", []).append(
        shell(f"pg_dump -Fc -Z0 {BENCH_DB} | zstd -3 -T2 -q > {work / 'cli.zst'}"))
    with app.app_context():
        seconds, manifest = timed(services.write_backup, ids.new_backup_id(), "bench")
        results.setdefault("ours", []).append(seconds)
        sizes["ours"] = manifest["size_bytes"]
        check, _ = timed(services.check_artifact, manifest)
        results.setdefault("ours_verified", []).append(seconds + check)
    return manifest


def stats(samples: list[float]) -> str:
    return f"{statistics.median(samples):7.1f} s  {max(samples):7.1f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=0.65, help="0.65 builds about 1 GB")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--restore-only", action="store_true",
                        help="time only the restore comparison (raw pg_restore, with our flags, ours)")
    args = parser.parse_args()
    loads = common.LoadRecorder()

    from app import create_app
    from app.backups import catalogue, ids, procedures, restore, services
    from app.config import TEST_CONFIG
    from app.database import transaction
    from app.security.actor import Actor

    work = Path(tempfile.mkdtemp(prefix="saintara-bench-backup-"))
    recreate(BENCH_DB)
    app = create_app({**TEST_CONFIG, "APP_ENV": "development", "TESTING": False,
                      "SQLALCHEMY_DATABASE_URI": url_of(BENCH_DB).replace("postgresql://", "postgresql+psycopg2://"),
                      "INSTANCE_PATH": str(work / "instance"), "BACKUP_DIR": str(work / "backups"),
                      "EMBEDDED_DATABASE": False, "REDIS_URL": None, "CACHE_TYPE": "SimpleCache",
                      "RATELIMIT_STORAGE_URI": "memory://", "JOBS_BACKEND": "thread", "BACKUP_ENCRYPTION_KEYS": []})
    actor = Actor.system("bench")
    results: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    try:
        print(f"Building {BENCH_DB} (scale {args.scale}) ...", flush=True)
        build_seconds, size = timed(build, app, args.scale)
        print(f"  {size / 1e9:.2f} GB in {build_seconds:.0f} s; {os.cpu_count()} CPUs; "
              f"{subprocess.run(['pg_dump', '--version'], capture_output=True, text=True).stdout.strip()}")
        naive_file, raw_file = work / "naive.sql.gz", work / "raw.dump"
        shell(f"pg_dump -Fc -Z0 -f {raw_file} {BENCH_DB}")  # the input of the raw pg_restore (not timed)
        for round_no in range(1, args.rounds + 1):
            print(f"Round {round_no}/{args.rounds} (load average {loads.sample():.1f})", flush=True)
            if args.restore_only:  # the artifact to restore (not timed)
                with app.app_context():
                    manifest = services.write_backup(ids.new_backup_id(), "bench")
            with common.bench_lock():
                loads.sample()
                if not args.restore_only:
                    manifest = time_backups(app, work, naive_file, results, sizes)
                scratch = f"{BENCH_DB}_scratch"
                if not args.restore_only:
                    recreate(scratch)
                    results.setdefault("restore_psql", []).append(
                        shell(f"gunzip -c {naive_file} | psql -q -v ON_ERROR_STOP=1 -o /dev/null -d {scratch}"))
                recreate(scratch)
                results.setdefault("restore_raw", []).append(shell(f"pg_restore -d {scratch} {raw_file}"))
                drop(scratch)
                results.setdefault("restore_raw_atomic", []).append(shell(
                    f"pg_restore --single-transaction --clean --if-exists --no-owner --no-privileges -d {BENCH_DB} "
                    f"{raw_file}"))
                with app.app_context():
                    seconds, _ = timed(restore.replace_database, manifest)
                    results.setdefault("restore_ours", []).append(seconds)
                    if not args.restore_only:
                        with transaction():
                            catalogue.upsert_backup(manifest)
                        seconds, _ = timed(procedures.restore_backup, actor, manifest["id"])
                        results.setdefault("restore_full", []).append(seconds)
                loads.sample()
            print(f"  restore: raw {results['restore_raw'][-1]:.1f} s, raw with our flags "
                  f"{results['restore_raw_atomic'][-1]:.1f} s, ours {results['restore_ours'][-1]:.1f} s "
                  f"(load average {loads.samples[-1]:.1f})", flush=True)
            for path in (work / "backups").glob("*"):
                if path.is_file():
                    path.unlink()
        report(results, sizes, size, args.rounds)
        print(f"1-minute load average while timing: {loads.summary()}")
    finally:
        if not args.keep:
            with app.app_context():
                from app.extensions import db

                db.engine.dispose()
            drop(BENCH_DB)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(results: dict[str, list[float]], sizes: dict[str, int], db_size: int, rounds: int) -> None:
    med = {k: statistics.median(v) for k, v in results.items()}
    if "ours" not in results:  # --restore-only
        print(f"\nRestores of a {db_size / 1e9:.2f} GB database, {rounds} rounds (median, p95 = slowest round)")
        for label, key in (("pg_restore of a -Fc -Z0 file (raw, into an empty database)", "restore_raw"),
                           ("pg_restore -1 --clean of that file over the live data", "restore_raw_atomic"),
                           ("ours: decode | pg_restore --single-transaction --clean, checked", "restore_ours")):
            print(f"restore  {label:<66} {stats(results[key])}")
        print(f"\n  our restore vs pg_restore: {med['restore_ours'] / med['restore_raw']:.2f}x (target <= 1.1x); "
              f"vs pg_restore -1 --clean: {med['restore_ours'] / med['restore_raw_atomic']:.2f}x (the same work)")
        ratios = [o / r for o, r in zip(results["restore_ours"], results["restore_raw"], strict=True)]
        print(f"  per round (ours / raw, same round): {', '.join(f'{x:.2f}' for x in ratios)}")
        return
    print(f"\nBackups of a {db_size / 1e9:.2f} GB database, {rounds} rounds (median, p95 = slowest round)")
    rows = [
        ("backup", "pg_dump | gzip -6 (old scripts)", "dump_gzip", sizes.get("dump_gzip")),
        ("backup", "pg_dump -Fc -Z0 > /dev/null (floor)", "dump_raw", None),
        ("backup", "pg_dump -Fc -Z0 | zstd -3 -T2 (command-line tools)", "dump_zstd_cli", None),
        ("backup", "ours: pg_dump -Fc -Z0 | zstd -T0, stored", "ours", sizes.get("ours")),
        ("backup", "ours + verification (SHA-256, pg_restore --list)", "ours_verified", sizes.get("ours")),
        ("restore", "gunzip | psql (old scripts)", "restore_psql", None),
        ("restore", "pg_restore of a -Fc -Z0 file (raw)", "restore_raw", None),
        ("restore", "pg_restore -1 --clean of that file over the live data", "restore_raw_atomic", None),
        ("restore", "ours: decode | pg_restore --single-transaction --clean, checked", "restore_ours", None),
        ("restore", "ours, full: verify + safety backup + restore", "restore_full", None),
    ]
    print(f"{'':8} {'method':<66} {'median':>9} {'p95':>9}  {'artifact':>10}")
    for kind, label, key, artifact in rows:
        size = f"{artifact / 1e6:8.1f} MB" if artifact else ""
        print(f"{kind:8} {label:<66} {stats(results[key])}  {size:>10}")
    print("\nTargets:")
    print(f"  ours vs pg_dump | gzip:   {med['dump_gzip'] / med['ours']:.2f}x faster (target >= 2x); artifact "
          f"{sizes['ours'] / sizes['dump_gzip']:.2f} of gzip's (target <= 1)")
    print(f"  ours vs raw dump:         {med['ours'] / med['dump_raw']:.2f}x (target <= 1.2x)")
    print(f"  ours vs pg_dump | zstd:   {med['ours'] / med['dump_zstd_cli']:.2f}x (the same work)")
    print(f"  our restore vs pg_restore: {med['restore_ours'] / med['restore_raw']:.2f}x (target <= 1.1x); "
          f"vs pg_restore -1 --clean: {med['restore_ours'] / med['restore_raw_atomic']:.2f}x (the same work)")
    print(f"  old restore vs ours:      {med['restore_psql'] / med['restore_ours']:.2f}x slower")
    print(f"\nload average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())
