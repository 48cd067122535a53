"""``flask users``: account commands for operators."""

from __future__ import annotations

import os

import click
from flask.cli import AppGroup

from app.database import transaction
from app.security.actor import Actor
from app.security.passwords import WeakPassword
from app.users import services
from app.users.models import Role

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create-superadmin")
@click.option("--email", envvar="ADMIN_EMAIL", required=True, help="E-mail address (or ADMIN_EMAIL).")
@click.option("--name", "display_name", default="Superadmin", show_default=True, help="Display name.")
@click.option("--if-missing", is_flag=True, help="Do nothing (exit 0) when the account already exists.")
def create_superadmin(email: str, display_name: str, if_missing: bool) -> None:
    """Create a superadmin. The password comes from ADMIN_PASSWORD, or is generated and printed once.

    Exits 1 when the account exists (unless --if-missing) and 2 on an invalid e-mail
    or a password that breaks the policy.
    """
    if services.find_by_email(email) is not None:
        if if_missing:
            click.echo(f"Superadmin {services.normalise_email(email)} already exists; nothing to do.")
            return
        raise click.ClickException(f"an account with the e-mail {services.normalise_email(email)} already exists")
    password = os.environ.get("ADMIN_PASSWORD") or None
    generated = password is None
    if generated:
        password = services.generate_password()
    try:
        with transaction():
            user = services.create_user(Actor.system("cli"), email=email, display_name=display_name,
                                        role=Role.SUPERADMIN, password=password)
    except services.UserError as exc:
        raise click.UsageError(str(exc)) from None
    except WeakPassword as exc:
        raise click.UsageError("ADMIN_PASSWORD is not acceptable: " + "; ".join(map(str, exc.reasons))) from None
    click.echo(f"Created superadmin {user.email}.")
    if generated:
        click.echo(f"Generated password (shown once, change it after signing in): {password}")


@users_cli.command("reset-two-factor")
@click.option("--email", required=True, help="E-mail address of the account.")
@click.option("--reason", required=True, help="Why (kept in the audit log), e.g. a ticket number.")
def reset_two_factor(email: str, reason: str) -> None:
    """Remove every second factor of an account and end its sessions (recovery when no
    superadmin can sign in to do it). Exits 1 for an unknown account, 2 for an empty reason.
    """
    from app.auth import two_factor

    user = services.find_by_email(email)
    if user is None:
        raise click.ClickException(f"no account with the e-mail {services.normalise_email(email)}")
    if not reason.strip():
        raise click.UsageError("give a reason")
    with transaction():
        ended = two_factor.reset_two_factor(Actor.system("cli"), user, reason)
    click.echo(f"Two-factor sign-in of {user.email} was reset; {ended} session(s) ended. "
               "The account sets up a new second factor at its next sign-in.")


@users_cli.command("end-expired-impersonations")
def end_expired_impersonations() -> None:
    """Close every impersonation whose time limit passed without anyone stopping it (each one
    audited, reason "expired"). Run it from cron every few minutes; safe to repeat."""
    from app.users import impersonation

    with transaction():
        ended = impersonation.end_expired(Actor.system("cli"))
    click.echo(f"{ended} expired impersonation(s) ended.")
