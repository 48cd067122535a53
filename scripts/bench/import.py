"""Customer bulk import: our import (validate in Python, one COPY) next to a naive ORM import
(validate, query and flush row by row), on PostgreSQL, for files of 10,000 and 100,000 rows.

    .venv/bin/python scripts/bench/import.py [--sizes 10000,100000] [--repeat 3] [--keep]

Prints validated rows per second. Uses the database saintara_bench_import (dropped afterwards).
The figures depend on the machine's load: the script prints the load average with them.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import time

from common import bench_database, make_app, median

from app.extensions import db

DATABASE = "saintara_bench_import"
INSTITUTIONS = 20


def make_file(rows: int, seed: int = 6) -> bytes:
    """A realistic customer CSV: Indonesian names, unique e-mails, phone numbers, 20 institutions."""
    from app.platform.demo import FIRST_NAMES, LAST_NAMES

    rng = random.Random(seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["full_name", "email", "phone", "institution_code"])
    for n in range(rows):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        writer.writerow([f"{first} {last}", f"{first}.{last}.{n}@contoh{n % 7}.co.id".lower(),
                         f"+62 8{rng.randint(11, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
                         f"BENCH{n % INSTITUTIONS + 1:02d}"])
    return buffer.getvalue().encode()


def reset() -> None:
    db.session.execute(db.text("TRUNCATE customers, customer_imports RESTART IDENTITY CASCADE"))
    db.session.commit()


def ours(content: bytes, name: str) -> dict:
    """Upload + preview (every line validated), then the import (COPY of the validated rows, audit, commit)."""
    from app.platform.services import imports
    from app.security.actor import Actor

    actor = Actor.system("bench")
    started = time.perf_counter()
    staged, validation = imports.stage(actor, name, content)
    db.session.commit()
    preview = time.perf_counter() - started
    assert validation.ok, validation.errors[:3]
    started = time.perf_counter()
    count = imports.run(actor, staged, expected_sha256=staged.file_sha256)
    db.session.commit()
    imported = time.perf_counter() - started
    return {"rows": count, "preview": preview, "import": imported}


def naive(content: bytes) -> dict:
    """What an ORM import usually looks like: per row, validate, check for a duplicate, add and flush
    (institutions looked up once)."""
    from email_validator import validate_email
    from sqlalchemy import select

    from app.platform.models import Customer, Institution

    started = time.perf_counter()
    institutions = {i.code: i for i in db.session.scalars(select(Institution))}
    count = 0
    for row in csv.DictReader(io.StringIO(content.decode())):
        email = validate_email(row["email"], check_deliverability=False).normalized.lower()
        institution = institutions[row["institution_code"]]
        duplicate = db.session.scalar(select(Customer.id).where(Customer.institution_id == institution.id,
                                                                Customer.email == email))
        assert duplicate is None
        db.session.add(Customer(institution_id=institution.id, full_name=" ".join(row["full_name"].split()),
                                email=email, phone=row["phone"] or None))
        db.session.flush()
        count += 1
    db.session.commit()
    return {"rows": count, "import": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with bench_database(DATABASE, keep=args.keep) as (url, _reused):
        app = make_app(url)
        with app.app_context():
            from app.platform.models import Institution

            db.session.add_all(Institution(code=f"BENCH{n + 1:02d}", name=f"Bench Institution {n + 1}")
                               for n in range(INSTITUTIONS))
            db.session.commit()
            print(f"PostgreSQL {db.session.execute(db.text('SHOW server_version')).scalar()}, "
                  f"database {DATABASE}\n")
            header = (f"{'rows':>8} | {'ours: preview rows/s':>21} | {'ours: import rows/s':>20} | "
                      f"{'naive ORM rows/s':>17} | {'speed-up':>8}")
            print(header)
            print("-" * len(header))
            for size in sizes:
                content = make_file(size)
                runs = []
                for n in range(args.repeat):
                    reset()
                    runs.append(ours(content, f"bench-{size}-{n}.csv"))
                naive_runs = []
                for _ in range(args.repeat if size <= 10_000 else 1):
                    reset()
                    naive_runs.append(naive(content))
                preview_rate = size / median([r["preview"] for r in runs])
                import_rate = size / median([r["import"] for r in runs])
                naive_rate = size / median([r["import"] for r in naive_runs])
                print(f"{size:>8,} | {preview_rate:>21,.0f} | {import_rate:>20,.0f} | {naive_rate:>17,.0f} | "
                      f"{import_rate / naive_rate:>7.1f}x", flush=True)
            print(f"\nmedian of {args.repeat} runs each (naive at 100,000 rows: one run). preview = read + "
                  "validate every line + keep the file; import = institution check + COPY of the validated rows "
                  "+ audit entry + commit; naive = validate, look for a duplicate, add and flush, row by row; "
                  f"load average {os.getloadavg()[0]:.1f}")
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
