"""``flask seed-demo``: load the demo data set."""

from __future__ import annotations

import click

from app import events
from app.database import transaction
from app.platform import demo
from app.platform.services.facets import clear_facets
from app.security.actor import Actor


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already holds institutions.")
@click.option("--seed", default=42, show_default=True, help="Random seed (the same seed gives the same data).")
def seed_demo(if_empty: bool, seed: int) -> None:
    """Load about 20 institutions, 2,000 customers, 10,000 transactions and 200 approvals with history."""
    if not demo.database_is_empty():
        if if_empty:
            click.echo("The database already holds data; demo data not loaded.")
            return
        raise click.ClickException("the database already holds data; load demo data only into an empty one")
    with transaction():
        summary = demo.load_demo_data(Actor.system("seed-demo"), seed=seed)
        # The demo history is backdated: the dashboard forgets its past days too.
        events.announce(events.demo_data_loaded, institutions=summary.institutions, customers=summary.customers,
                        transactions=summary.transactions, approvals=summary.approvals)
    clear_facets()
    click.echo(
        f"Loaded demo data: {summary.institutions} institutions, {summary.customers} customers, "
        f"{summary.transactions} transactions, {summary.approvals} approvals, "
        f"{summary.audit_entries} audit entries."
    )
