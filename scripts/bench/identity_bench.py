"""Identity and access: what our choices cost, next to the naive way, in one run.

    .venv/bin/python scripts/bench/identity_bench.py [--users 20000] [--rounds 30]

1. Checking a backup code against an account's ten stored hashes (the worst case: a wrong
   code tries them all) with our argon2id parameters for high-entropy codes, versus the
   password parameters (what hashing the codes "like passwords" would cost).
2. A deep page of the user list on PostgreSQL: keyset (WHERE (email, id) > cursor) versus
   OFFSET, with and without a filter. Uses a throw-away database ``saintara_test_bench_*``.

Prints median and p95 in milliseconds, and the load average (the figures move with it).
Figures go to docs/PERFORMANCE.md by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time

import common  # noqa: F401  (first: puts the project, not this folder, on the path)
from argon2 import PasswordHasher, Type
from argon2.exceptions import VerifyMismatchError


def timed(function, rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def row(label: str, figures: tuple[float, float]) -> None:
    print(f"  {label:<58} median {figures[0]:8.2f} ms   p95 {figures[1]:8.2f} ms")


def bench_backup_codes(rounds: int) -> None:
    print("Backup code check, wrong code against 10 stored hashes (worst case)")
    ours = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)
    naive = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1, type=Type.ID)
    for label, hasher in (("ours: argon2id 19 MiB, 2 passes (OWASP minimum)", ours),
                          ("naive: password parameters, 64 MiB, 3 passes", naive)):
        hashes = [hasher.hash(f"code{n:06d}xx") for n in range(10)]

        def check(hasher=hasher, hashes=hashes):
            for stored in hashes:
                with contextlib.suppress(VerifyMismatchError):
                    hasher.verify(stored, "wrongcode0")

        row(label, timed(check, max(3, rounds // 3)))


def bench_user_list(users: int, rounds: int) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import func, insert, select

    from app import create_app
    from app.config import TEST_CONFIG
    from app.extensions import db
    from app.pagination import Keyset, encode_cursor
    from app.users.models import User
    from tests.integration.conftest import create_database, drop_database

    url = create_database("saintara_test_bench_identity")
    scratch = tempfile.TemporaryDirectory(prefix="saintara-bench-")
    os.environ["INSTANCE_PATH"] = scratch.name  # no development secrets written into the checkout
    try:
        app = create_app({**TEST_CONFIG, "INSTANCE_PATH": scratch.name,
                          "SQLALCHEMY_DATABASE_URI": url, "EMBEDDED_DATABASE": False, "REDIS_URL": None})
        with app.app_context():
            upgrade()
            db.session.execute(insert(User), [
                {"email": f"user{n:06d}@bench.example", "display_name": f"User {n}", "role": "admin",
                 "is_active_account": n % 7 != 0, "version": 1} for n in range(users)])
            db.session.commit()
            db.session.execute(db.text("ANALYZE users"))
            order = Keyset((User.email, User.id), descending=False)
            depth = (users * 3 // 4) // 50 * 50  # three quarters into the list
            print(f"\nUser list on PostgreSQL, {users:,} users, page of 50 at row {depth:,}")
            for label, base in (("all users", select(User)),
                                ("active only", select(User).where(User.is_active_account.is_(True)))):
                anchor = db.session.execute(base.order_by(User.email, User.id).offset(depth - 1).limit(1)) \
                    .scalars().one()
                cursor = encode_cursor([anchor.email, anchor.id])

                def keyset(base=base, cursor=cursor):
                    db.session.expunge_all()
                    return order.page(base, cursor=cursor, size=50).items

                def offset(base=base):
                    db.session.expunge_all()
                    return list(db.session.scalars(base.order_by(User.email, User.id).offset(depth).limit(51)))

                assert [u.id for u in keyset()] == [u.id for u in offset()][:50]
                row(f"ours: keyset, {label}", timed(keyset, rounds))
                row(f"naive: OFFSET {depth:,}, {label}", timed(offset, rounds))
            total = db.session.scalar(select(func.count()).select_from(User))
            assert total == users
            db.engine.dispose()
    finally:
        drop_database(url)
        scratch.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    bench_backup_codes(args.rounds)
    bench_user_list(args.users, args.rounds)
    print(f"\nload average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
