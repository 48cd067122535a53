"""Seed a load-test database: accounts with authenticator apps and API tokens, work to decide.

    scripts/load/stack.sh seed --users 1000 [--approvals 20000]

TEST-ONLY DATA: it refuses any database whose name does not start with ``saintara_load`` or
``saintara_test``. Loads the demo data set when the database is empty (institutions,
customers, transactions, approvals and their audit history), then for each persona of
scripts/load/personas.py one account per simulated person (password LOAD_PASSWORD, a confirmed
authenticator app), one read-only API token per API client, and ``--approvals`` more pending
approval requests. Writes ``--out`` (mode 0600): the e-mail addresses, TOTP secrets and API
tokens that the locustfile reads to sign in and compute codes. Running it again adds nothing
that exists already (accounts are found by e-mail) and rewrites the file.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import click
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

from scripts.load.personas import LOAD_PASSWORD, PERSONAS, pool_size

EMAIL_DOMAIN = "load.saintara.id"


def _persona_accounts(actor, persona: str, role, count: int, institutions: list[int], password_hash: str) -> list:
    """``count`` accounts of ``persona`` (made when missing) with a confirmed authenticator app."""
    import pyotp

    from app.auth.models import TotpCredential
    from app.database import utcnow
    from app.extensions import db
    from app.users import services as users

    accounts = []
    for n in range(count):
        email = f"{persona.replace('_', '-')}-{n:05d}@{EMAIL_DOMAIN}"
        user = users.find_by_email(email)
        if user is None:
            user = users.create_user(actor, email=email, display_name=f"Load {persona} {n}", role=role,
                                     institution_id=institutions[n % len(institutions)] if role.needs_institution
                                     else None)
            # One argon2id hash for all (the same password): hashing it per account would take minutes.
            user.password_hash, user.password_changed_at = password_hash, utcnow()
            secret = pyotp.random_base32()
            db.session.add(TotpCredential(user_id=user.id, secret=secret, confirmed_at=utcnow()))
            db.session.flush()
        else:
            secret = db.session.scalar(select(TotpCredential.secret).where(TotpCredential.user_id == user.id))
        accounts.append({"id": user.id, "email": email, "totp_secret": secret, "institution_id": user.institution_id})
    return accounts


def _api_tokens(owners: list[dict]) -> list[str]:
    """One read-only token per API client account, made by its owner (the seed file keeps the plain copies)."""
    from app.api import tokens
    from app.extensions import db
    from app.security.actor import Actor
    from app.users.models import User

    plain = []
    for owner in owners:
        user = db.session.get(User, owner["id"])
        _token, text = tokens.create_token(Actor.for_user(user), user, name="load test SIEM pull", scope="read",
                                           days=max(tokens.LIFETIMES_DAYS))
        plain.append(text)
    return plain


def _pending_approvals(count: int, institutions: list[int]) -> int:
    """``count`` more pending approval requests (data corrections), spread over the institutions."""
    from app.extensions import db
    from app.platform.models import Approval, Customer

    if count <= 0:
        return 0
    rng = random.Random(2026)
    customers = db.session.execute(select(Customer.id, Customer.institution_id, Customer.full_name, Customer.phone)
                                   .where(Customer.institution_id.in_(institutions))).all()
    rows = []
    for _ in range(count):
        c = rng.choice(customers)
        new_phone = f"+62 8{rng.randint(11, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
        rows.append({"kind": "data_correction", "subject_type": "customer", "subject_id": str(c.id),
                     "subject_repr": c.full_name, "institution_id": c.institution_id,
                     "summary": "Correct the customer's registered phone number",
                     "payload": {"changes": {"phone": {"old": c.phone, "new": new_phone}}},
                     "status": "pending", "version": 1})
    db.session.execute(insert(Approval), rows)
    return count


@click.command()
@click.option("--users", "simulated", default=50, show_default=True, help="Simulated people the run will start.")
@click.option("--approvals", default=2000, show_default=True, help="Pending approval requests to add.")
@click.option("--small", is_flag=True, help="A small demo data set (the smoke test): 5 institutions, 500 transactions.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The seed file to write.")
def seed(simulated: int, approvals: int, small: bool, out: Path) -> None:
    """Make the load test's accounts, second factors, API tokens and work (test-only data)."""
    database = make_url(os.environ.get("DATABASE_URL", "")).database or ""
    if not database.startswith(("saintara_load", "saintara_test")):
        raise click.ClickException(f"refusing to seed test accounts into {database!r}: not a load-test database")
    from app import create_app, events
    from app.database import transaction
    from app.extensions import db
    from app.platform import demo
    from app.platform.models import Institution
    from app.platform.services.facets import clear_facets
    from app.security.actor import Actor
    from app.security.passwords import check_policy, hash_password
    from app.users.models import Role

    app = create_app()
    with app.app_context():
        actor = Actor.system("load-seed")
        if demo.database_is_empty():
            with transaction():
                size = demo.DemoSize(institutions=5, customers=300, transactions=500, approvals=50) if small else \
                    demo.DemoSize()
                summary = demo.load_demo_data(actor, size=size)
                events.announce(events.demo_data_loaded, institutions=summary.institutions,
                                customers=summary.customers, transactions=summary.transactions,
                                approvals=summary.approvals)
            clear_facets()
        institutions = list(db.session.scalars(select(Institution.id).where(Institution.is_active)
                                               .order_by(Institution.id)))
        check_policy(LOAD_PASSWORD, email=f"x@{EMAIL_DOMAIN}")
        password_hash = hash_password(LOAD_PASSWORD)
        data: dict = {"note": "TEST-ONLY load-test accounts of a scratch database; never use in production",
                      "password": LOAD_PASSWORD, "accounts": {}}
        with transaction():
            for persona, (_weight, role) in PERSONAS.items():
                data["accounts"][persona] = _persona_accounts(actor, persona, Role(role),
                                                              pool_size(persona, simulated), institutions,
                                                              password_hash)
            previous = json.loads(out.read_text()) if out.exists() else {}
            tokens = previous.get("api_tokens", [])
            owners = data["accounts"]["api_client"]
            data["api_tokens"] = tokens[:len(owners)] + _api_tokens(owners[len(tokens):])
            added = _pending_approvals(approvals, institutions)
        clear_facets()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        json.dump(data, handle, indent=1)
    made = sum(len(v) for v in data["accounts"].values())
    click.echo(f"Seeded {made} accounts, {len(data['api_tokens'])} API tokens, {added} pending approvals: {out}")


if __name__ == "__main__":
    seed()
