"""Shared fixtures: ``app``, ``client``, ``runner``, a rollback-isolated ``db``, and
callable factories ``make_user`` / ``make_institution`` / ``login_as``.

Unit tests run on an SQLite file migrated once per session; tests/integration
overrides ``app_config`` to run the same fixtures on PostgreSQL and Redis.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import time

import pytest
from flask.ctx import _cv_app
from flask.sessions import session_json_serializer
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import select

from app import create_app
from app.config import TEST_CONFIG
from app.extensions import cache, limiter
from app.extensions import db as _db
from app.platform.models import Customer, Institution
from app.security.actor import Actor
from app.security.sessions import MemorySessionStore, session_key
from app.users.models import Role, User


def _worker_redis_dbs() -> None:
    """`make test` runs the suite in two worker processes (pytest-xdist, ``--dist loadfile``).

    Their databases are apart already (each name carries its process id), and each worker that
    runs end-to-end tests starts a live server of its own. Redis: the first worker (gw0) keeps
    ``TEST_REDIS_DB`` and ``TEST_REDIS_E2E_DB`` (11, 12); worker N of the others takes the N-th pair
    of ``TEST_REDIS_WORKER_DBS`` (default "10,9": gw1's integration and end-to-end dbs).
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or worker == "gw0":
        return
    number = int(worker[2:])
    listed = [part.strip() for part in os.environ.get("TEST_REDIS_WORKER_DBS", "10,9").split(",") if part.strip()]
    if len(listed) < 2 * number:
        raise pytest.UsageError(f"worker {worker} has no Redis dbs: list two more in TEST_REDIS_WORKER_DBS")
    os.environ["TEST_REDIS_DB"], os.environ["TEST_REDIS_E2E_DB"] = listed[2 * number - 2:2 * number]


_worker_redis_dbs()


DEFAULT_PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def app_config(tmp_path_factory) -> dict:
    """Configuration of the session's app; integration tests override this fixture."""
    instance = tmp_path_factory.mktemp("instance")
    return {
        **TEST_CONFIG,
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'test.db'}",
        "EMBEDDED_DATABASE": True,
        "REDIS_URL": None,
        "BACKUP_DIR": str(instance / "backups"),
    }


class RequestIsolatedClient(FlaskClient):
    """Each request gets its own app context (and ``g``), as in production.

    Tests keep an app context open for the database; without this, Flask would reuse
    it for every request and ``g`` (the signed-in user, say) would leak between them.
    """

    def open(self, *args, **kwargs):
        token = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)


def build_app(config: dict):
    """An app for tests, with the migrations applied to its database."""
    application = create_app(config)
    application.test_client_class = RequestIsolatedClient
    with application.app_context():
        upgrade()
    return application


@pytest.fixture(scope="session")
def app(app_config):
    """One app per test session (SQLite); tests/integration defines its own on PostgreSQL."""
    return build_app(app_config)


class _ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy picks the app's engine itself; tests need the one open connection."""

    def get_bind(self, *args, **kwargs):
        return self.bind


@pytest.fixture
def db(app):
    """The database, with every test's work rolled back at the end (commits included)."""
    with app.app_context():
        connection = _db.engine.connect()
        outer = connection.begin()
        original = _db.session
        _db.session = _db._make_scoped_session(
            {"bind": connection, "join_transaction_mode": "create_savepoint", "class_": _ConnectionBoundSession}
        )
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            outer.rollback()
            connection.close()


WINDOW_START = 1_900_000_800.0  # a multiple of 15 minutes, 1 hour and 1 minute: no window ends mid-test


@pytest.fixture
def frozen_clock(monkeypatch):
    """The limiter's clock stands still at the start of a window (the test never crosses one:
    a fixed window that ends between a test's requests would count them twice over)."""
    from app.security import limiting

    monkeypatch.setattr(limiting, "clock", lambda: WINDOW_START + 1)
    return WINDOW_START + 1


@pytest.fixture
def jobs_stay_queued(monkeypatch):
    """Background jobs are queued but not run: a job thread would share the ``db`` fixture's
    connection (and its savepoints) with the test. Returns the ids of the jobs dispatched."""
    from app.jobs import services as jobs

    dispatched: list[str] = []
    monkeypatch.setattr(jobs, "_run_in_thread", lambda _app, job_id: dispatched.append(job_id))
    return dispatched


@pytest.fixture(autouse=True)
def _fresh_stores(app):
    """Each test starts with no sessions and no rate-limit counts (ids repeat after rollback)."""
    if app.config.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()
    else:
        app.session_interface.store = MemorySessionStore()
    with app.app_context():
        limiter.reset()
        cache.clear()
    yield


@pytest.fixture(autouse=True)
def _fresh_analytics(app):
    """Each test starts with an empty analytics buffer, no remembered salts or consent answers
    (rows roll back, ids repeat)."""
    from app.analytics.services import forget_remembered_consents
    from app.analytics.visitors import forget_cached_salts

    app.extensions["analytics"].events.clear()
    forget_cached_salts()
    forget_remembered_consents()
    yield
    app.extensions["analytics"].events.clear()
    forget_cached_salts()
    forget_remembered_consents()


@pytest.fixture
def consenting(db, make_user):
    """``consenting(role=Role.ADMIN)``: a new account that agreed to usage analytics."""
    from tests.unit.analytics_support import choose

    def factory(role: Role = Role.ADMIN) -> User:
        user = make_user(role)
        choose(user, True)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def runner(app, db):
    return app.test_cli_runner()


@pytest.fixture
def make_institution(db):
    def factory(name: str | None = None, code: str | None = None) -> Institution:
        n = next(_counter)
        institution = Institution(name=name or f"Institution {n}", code=code or f"T{n:05d}")
        db.session.add(institution)
        db.session.flush()
        return institution

    return factory


@pytest.fixture
def make_customer(db, make_institution):
    def factory(institution: Institution | None = None, **fields) -> Customer:
        n = next(_counter)
        institution = institution or make_institution()
        customer = Customer(institution_id=institution.id, full_name=fields.pop("full_name", f"Customer {n}"),
                            email=fields.pop("email", f"customer{n}@example.com"), **fields)
        db.session.add(customer)
        db.session.flush()
        return customer

    return factory


@pytest.fixture
def make_user(db, make_institution):
    """``make_user(role=Role.ADMIN, password=..., institution=..., active=True, with_2fa=False)``.

    ``with_2fa=True`` gives the account a confirmed authenticator app and ten backup
    codes: the secret is on ``user.totp_secret`` and the plain codes on ``user.backup_codes``.
    """

    def factory(role: Role | str = Role.ADMIN, *, email: str | None = None, password: str | None = DEFAULT_PASSWORD,
                institution: Institution | None = None, active: bool = True,
                display_name: str | None = None, with_2fa: bool = False) -> User:
        from app.users import services

        role = Role(role)
        if role.needs_institution and institution is None:
            institution = make_institution()
        n = next(_counter)
        user = services.create_user(
            Actor.system("test"), email=email or f"{role.value}{n}@example.com",
            display_name=display_name or f"{role.value.title()} {n}", role=role,
            institution_id=institution.id if institution else None, password=password,
        )
        if not active:
            user.is_active_account = False
        secret, codes = (enrol_totp(user) if with_2fa else (None, None))
        db.session.commit()
        user.totp_secret, user.backup_codes = secret, codes
        return user

    return factory


def enrol_totp(user: User) -> tuple[str, list[str]]:
    """Give ``user`` a confirmed authenticator app and backup codes; returns (secret, codes)."""
    import pyotp

    from app.auth import backup_codes
    from app.auth.models import TotpCredential
    from app.database import utcnow

    secret = pyotp.random_base32()
    _db.session.add(TotpCredential(user_id=user.id, secret=secret, confirmed_at=utcnow()))
    _db.session.flush()
    return secret, backup_codes.generate_backup_codes(Actor.system("test"), user)


def totp_code(user_or_secret, *, offset: int = 0) -> str:
    """The authenticator code of ``offset`` steps from now that the account has not used yet.

    With ``offset=0`` it picks the first of the accepted steps (now -1 .. now +1) that is
    newer than the last one the account used, so signing in twice in 30 s works.
    """
    import pyotp

    from app.auth.models import TotpCredential

    secret = getattr(user_or_secret, "totp_secret", user_or_secret)
    totp = pyotp.TOTP(secret)
    now = int(time.time() // 30)
    if offset or isinstance(user_or_secret, str):
        return totp.generate_otp(now + offset)
    last = _db.session.scalar(
        select(TotpCredential.last_used_step).where(TotpCredential.user_id == user_or_secret.id))
    for step in (now - 1, now, now + 1):
        if last is None or step > last:
            return totp.generate_otp(step)
    raise AssertionError("every code the server accepts now was already used; wait for the next step")


def csrf_token_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


class FormClient:
    """Posts forms the way a browser does: it reads the CSRF token from the page first."""

    def __init__(self, client):
        self.client = client

    def token(self, page: str = "/login") -> str:
        return csrf_token_from(self.client.get(page).get_data(as_text=True))

    def post(self, url: str, data: dict | None = None, *, page: str | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token(page or url))
        return self.client.post(url, data=data, **kwargs)


@pytest.fixture
def forms(client) -> FormClient:
    return FormClient(client)


@pytest.fixture
def client_for(app):
    """A new test client already signed in as ``user`` (a server-side session made directly).

    For tests about what a signed-in user may do; sign-in itself is tested through the form.
    """

    def factory(user: User):
        sid = secrets.token_urlsafe(32)
        now = time.time()
        record = {
            "data": session_json_serializer.dumps({"_user_id": str(user.id), "_fresh": True}),
            "meta": {"created": now, "last_seen": now, "user_id": user.id, "ip": "127.0.0.1", "user_agent": "test"},
        }
        app.session_interface.store.save(session_key(sid), record, ttl=600)
        new_client = app.test_client()
        new_client.set_cookie(app.config["SESSION_COOKIE_NAME"], sid)
        return new_client

    return factory


@pytest.fixture
def login_as(client, forms):
    """Sign ``user`` in through the real sign-in form; returns the response."""

    def do_login(user: User, password: str = DEFAULT_PASSWORD):
        response = forms.post("/login", {"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        if response.headers["Location"] == "/login/two-factor" and getattr(user, "totp_secret", None):
            response = forms.post("/login/two-factor", {"code": totp_code(user)})
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    return do_login


@pytest.fixture
def outbox(app):
    """Mails the portal sent during the test (MAIL_BACKEND=memory)."""
    from app.mail import OUTBOX

    sent = app.extensions.setdefault(OUTBOX, [])
    sent.clear()
    yield sent
    sent.clear()


def link_in(message, path_prefix: str) -> str:
    """The path of the first link in ``message`` that starts with ``path_prefix`` (e.g. "/invitation/")."""
    body = message.get_content()
    match = re.search(r"https?://[^/\s]+(" + re.escape(path_prefix) + r"[^\s]+)", body)
    assert match, f"no {path_prefix} link in: {body}"
    return match.group(1)


class SmtpInbox:
    """A loopback SMTP server (aiosmtpd) that keeps what it receives, for following mailed links."""

    def __init__(self):
        import threading

        self.messages: list = []
        self._arrived = threading.Condition()
        self.hostname, self.port = "127.0.0.1", 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        import email
        import email.policy

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, recipient: str, timeout: float = 15.0, subject: str | None = None):
        """The newest message to ``recipient`` (and ``subject``), waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for message in reversed(self.messages):
                    if recipient in message["To"] and (subject is None or subject in message["Subject"]):
                        return message
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no mail to {recipient} within {timeout} s"
                self._arrived.wait(remaining)


@pytest.fixture(scope="session")
def smtp_server():
    """An SMTP server on a free loopback port for the whole test session."""
    import socket

    from aiosmtpd.controller import Controller

    inbox = SmtpInbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]
    controller = Controller(inbox, hostname=inbox.hostname, port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()
# --- Operations console --------------------------------------------------------------


@pytest.fixture
def make_transaction(db, make_customer):
    """``make_transaction(customer=None, amount_idr=..., status="pending", created_at=...)``."""
    from app.database import utcnow
    from app.platform.models import Transaction

    def factory(customer: Customer | None = None, **fields) -> Transaction:
        n = next(_counter)
        customer = customer or make_customer()
        status = fields.pop("status", "pending")
        decided = {} if status == "pending" else {"decided_at": fields.pop("decided_at", utcnow())}
        tx = Transaction(reference=fields.pop("reference", f"TRX-TEST-{n:06d}"), customer_id=customer.id,
                         institution_id=customer.institution_id, amount_idr=fields.pop("amount_idr", 150_000),
                         status=status, **decided, **fields)
        db.session.add(tx)
        db.session.flush()
        return tx

    return factory


@pytest.fixture
def make_approval(db, make_institution):
    """``make_approval(institution=None, requested_by=None, status="pending", ...)``."""
    from app.database import utcnow
    from app.platform.models import Approval

    def factory(institution: Institution | None = None, requested_by: User | None = None, **fields) -> Approval:
        n = next(_counter)
        institution = institution or make_institution()
        status = fields.pop("status", "pending")
        decided = {} if status == "pending" else {"decided_at": fields.pop("decided_at", utcnow())}
        approval = Approval(kind=fields.pop("kind", "refund"), subject_type=fields.pop("subject_type", "customer"),
                            subject_id=fields.pop("subject_id", str(n)),
                            subject_repr=fields.pop("subject_repr", f"customer #{n}"), institution_id=institution.id,
                            summary=fields.pop("summary", f"Refund request {n}"), payload=fields.pop("payload", {}),
                            status=status,
                            requested_by_id=requested_by.id if requested_by else None, **decided, **fields)
        db.session.add(approval)
        db.session.flush()
        return approval

    return factory


@pytest.fixture
def staff(client_for):
    """``staff(user)``: a FormClient signed in as ``user`` (reads CSRF tokens from pages)."""
    return lambda user: FormClient(client_for(user))


@pytest.fixture
def step_up():
    """``step_up(forms)``: re-authenticate through the real step-up page."""

    def do(forms: FormClient, password: str = DEFAULT_PASSWORD) -> None:
        response = forms.post("/step-up", {"password": password, "next": "/dashboard"}, page="/step-up")
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    return do


@pytest.fixture
def write_audit(db):
    """``write_audit(action="USER_UPDATE", actor=None, **fields)``: one entry through the audit
    service, committed; returns it. ``actor`` defaults to a staff member with a request."""
    from app.audit import services as audit

    def factory(action: str = "USER_UPDATE", *, actor: Actor | None = None, **fields):
        actor = actor or Actor(user_id=900, email="staff@example.com", role="admin", ip="10.0.0.9",
                               user_agent="pytest", request_id=f"req-{next(_counter):08d}")
        entry = audit.log(actor, action, **fields)
        db.session.commit()
        return entry

    return factory


# --- Platform services ---------------------------------------------------------------


@pytest.fixture
def make_token(db):
    """``make_token(user, scope="read", days=30)``: the plain text of a new API token of ``user``."""
    from app.api import tokens

    def factory(user, scope: str = "read", days: int = 30) -> str:
        _token, plain = tokens.create_token(Actor.for_user(user), user, name="test", scope=scope, days=days)
        _db.session.commit()
        return plain

    return factory


def bearer(plain: str) -> dict:
    """The header that presents an API token."""
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture(autouse=True)
def _fresh_counters(app):
    """Each test starts with empty rate-limit counters and a cache not marked unreachable."""
    from app import caching
    from app.security.limiting import EXTENSION_KEY

    store = app.extensions[EXTENSION_KEY]
    store.shared.reset()
    store.local.reset()
    caching.reset_outage()
    yield
