"""Operator commands: flask users create-superadmin, flask seed-demo, flask audit verify."""

from sqlalchemy import func, select, text

from app.audit.models import AuditLog
from app.platform.models import Approval, Customer, Institution, Transaction
from app.security.passwords import verify_password
from app.users.models import User


def count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_create_superadmin_with_generated_password(runner, db):
    result = runner.invoke(args=["users", "create-superadmin", "--email", "Root@Example.com"])
    assert result.exit_code == 0, result.output
    password = result.output.strip().splitlines()[-1].rsplit(": ", 1)[1]
    user = db.session.scalars(select(User).where(User.email == "root@example.com")).one()
    assert user.role == "superadmin" and verify_password(user.password_hash, password)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "USER_CREATE")).one()
    assert entry.actor_email == "cli" and entry.resource_id == str(user.id)


def test_create_superadmin_from_environment(runner, db, monkeypatch):
    monkeypatch.setenv("ADMIN_EMAIL", "ops@example.com")
    monkeypatch.setenv("ADMIN_PASSWORD", "a perfectly fine passphrase")
    result = runner.invoke(args=["users", "create-superadmin"])
    assert result.exit_code == 0 and "Generated" not in result.output
    again = runner.invoke(args=["users", "create-superadmin"])
    assert again.exit_code == 1 and "already exists" in again.output
    idempotent = runner.invoke(args=["users", "create-superadmin", "--if-missing"])
    assert idempotent.exit_code == 0 and "nothing to do" in idempotent.output


def test_create_superadmin_refuses_bad_input(runner, db, monkeypatch):
    bad_email = runner.invoke(args=["users", "create-superadmin", "--email", "not-an-address"])
    assert bad_email.exit_code == 2 and "must have an @-sign" in bad_email.output
    monkeypatch.setenv("ADMIN_PASSWORD", "qwerty123456")
    weak = runner.invoke(args=["users", "create-superadmin", "--email", "x@example.com"])
    assert weak.exit_code == 2 and "most commonly used" in weak.output
    assert count(db, User) == 0


def test_seed_demo_loads_realistic_data_once(runner, db):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert count(db, Institution) == 20 and count(db, Customer) == 2000
    assert count(db, Transaction) == 10000 and count(db, Approval) == 200
    pending = db.session.scalar(select(func.count()).select_from(Transaction).where(Transaction.status == "pending"))
    assert 50 < pending < 1000
    assert count(db, AuditLog) > 5000
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and verified.output.startswith("OK:")
    assert runner.invoke(args=["seed-demo"]).exit_code == 1
    skipped = runner.invoke(args=["seed-demo", "--if-empty"])
    assert skipped.exit_code == 0 and "not loaded" in skipped.output


def test_audit_verify_fails_naming_the_entry(runner, db):
    runner.invoke(args=["users", "create-superadmin", "--email", "a@example.com"])
    runner.invoke(args=["users", "create-superadmin", "--email", "b@example.com"])
    first = db.session.scalars(select(AuditLog).order_by(AuditLog.id)).first()
    db.session.execute(text("UPDATE audit_logs SET actor_email = 'mallory' WHERE id = :id"), {"id": first.id})
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"entry {first.id} does not match its hash" in result.output


def test_reset_two_factor_from_the_command_line(runner, db, make_user):
    from app.auth import two_factor

    user = make_user("superadmin", with_2fa=True)
    unknown = runner.invoke(args=["users", "reset-two-factor", "--email", "ghost@example.com", "--reason", "x"])
    assert unknown.exit_code == 1 and "no account" in unknown.output
    blank = runner.invoke(args=["users", "reset-two-factor", "--email", user.email, "--reason", "  "])
    assert blank.exit_code == 2
    done = runner.invoke(args=["users", "reset-two-factor", "--email", user.email.upper(), "--reason", "lost phone"])
    assert done.exit_code == 0, done.output
    assert not two_factor.has_second_factor(user)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "TWO_FACTOR_RESET")).one()
    assert entry.actor_email == "cli" and "lost phone" in entry.description
