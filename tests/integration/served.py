"""gunicorn for the platform tests, logging into a file (a pipe nobody reads would fill up and block it)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from tests.integration.conftest import create_database, drop_database
from tests.integration.test_gunicorn import wait_for

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def serve(env: dict, log_path: Path):
    """Start ``gunicorn -c gunicorn.conf.py wsgi:app`` with ``env`` (BIND set), wait for /healthz,
    yield its base URL; its output is in ``log_path`` and is shown when the block fails."""
    url = "http://" + env["BIND"]
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            try:
                wait_for(url + "/healthz", process)
            except AssertionError:
                raise AssertionError("gunicorn did not start:\n" + log_path.read_text()[-5000:]) from None
            yield url
        except BaseException:
            print("gunicorn output (last lines):\n" + log_path.read_text()[-5000:])
            raise
        finally:
            process.terminate()
            process.wait(timeout=30)


SEEDED_PASSWORD = "platform test passphrase 2026"


def seed() -> None:
    """Run in a child process (``python -c``): a superadmin, a pending transaction and approval,
    a notice for every consent purpose, a data-subject request about the customer, and an API
    token; prints their ids and the token as JSON."""
    from app import create_app
    from app.api import tokens
    from app.consent import notices
    from app.database import utcnow
    from app.extensions import db
    from app.personal_data.catalogue import consent_purposes
    from app.platform.models import Approval, Customer, Institution, Transaction
    from app.privacy import services as privacy
    from app.security.actor import Actor
    from app.users import services
    from app.users.models import Role

    with create_app().app_context():
        user = services.create_user(Actor.system("test"), email="ops@platform.example", display_name="Ops",
                                    role=Role.SUPERADMIN, password=SEEDED_PASSWORD)
        institution = Institution(code="PLT1", name="Platform Bank")
        db.session.add(institution)
        db.session.flush()
        customer = Customer(institution_id=institution.id, full_name="C", email="c@platform.example")
        db.session.add(customer)
        db.session.flush()
        tx = Transaction(reference="TRX-PLATFORM-1", customer_id=customer.id, institution_id=institution.id,
                         amount_idr=1000)
        approval = Approval(kind="refund", subject_type="customer", subject_id=str(customer.id),
                            subject_repr="customer", institution_id=institution.id, summary="Refund", payload={})
        db.session.add_all([tx, approval])
        system = Actor.system("test")
        for purpose in consent_purposes():
            notices.publish(system, purpose.key, text_en=f"{purpose.key} notice",
                            text_id=f"pemberitahuan {purpose.key}", material=True)
        req = privacy.register_request(system, subject_type="customer", subject_id=customer.id, kind="access",
                                       channel="email", jurisdiction="gdpr", received_at=utcnow())
        _token, plain = tokens.create_token(Actor.for_user(user), user, name="tests", scope="write", days=7)
        db.session.commit()
        print(json.dumps({"token": plain, "transaction_id": tx.id, "approval_id": approval.id,
                          "customer_id": customer.id, "privacy_request_id": req.id,
                          "email": user.email, "password": SEEDED_PASSWORD}))


@contextlib.contextmanager
def seeded_database(prefix: str, redis_url: str, instance_path: Path):
    """A database of its own, migrated and seeded by child processes (so this process's
    extensions keep their own Redis); yields ``{"database_url", "token", ...}``."""
    database_url = create_database(prefix)
    env = {"PATH": os.environ["PATH"], "APP_ENV": "development", "INSTANCE_PATH": str(instance_path),
           "DATABASE_URL": database_url.replace("postgresql+psycopg2://", "postgresql://"), "REDIS_URL": redis_url,
           "ARGON2_MEMORY_COST": "8192",
           # Servers of this database need the key that wrapped its people's keys (app.personal_data).
           "ENCRYPTION_KEY": Fernet.generate_key().decode()}
    try:
        for command in (["-m", "flask", "--app", "wsgi", "db", "upgrade"],
                        ["-c", "from tests.integration.served import seed; seed()"]):
            result = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True,
                                    timeout=120)
            assert result.returncode == 0, result.stdout + result.stderr
        yield {"database_url": database_url, "env": env, **json.loads(result.stdout.strip().splitlines()[-1])}
    finally:
        drop_database(database_url)
