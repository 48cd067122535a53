"""Identity and access on the real PostgreSQL and Redis: races, shared counters, SMTP."""

from __future__ import annotations

import re
import threading
import time

import pyotp
import pytest
import redis
from flask_migrate import upgrade
from sqlalchemy import select

from app import create_app
from app.auth import totp, two_factor
from app.auth.models import TotpCredential
from app.config import TEST_CONFIG
from app.database import utcnow
from app.extensions import db
from app.security.actor import Actor
from app.users import administration, services
from app.users.models import Role, User
from tests.conftest import DEFAULT_PASSWORD, FormClient, link_in, totp_code
from tests.integration.conftest import create_database, drop_database

pytestmark = pytest.mark.integration


@pytest.fixture
def committing_app(tmp_path, redis_url):
    """An app on a database of its own where work really commits (no rollback isolation)."""
    url = create_database("saintara_test_identity")
    application = create_app({**TEST_CONFIG, "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": url,
                              "EMBEDDED_DATABASE": False, "REDIS_URL": redis_url, "CACHE_TYPE": "RedisCache",
                              "CACHE_REDIS_URL": redis_url, "RATELIMIT_STORAGE_URI": redis_url})
    with application.app_context():
        upgrade()
    redis.Redis.from_url(redis_url).flushdb()
    yield application
    with application.app_context():
        db.engine.dispose()
    drop_database(url)


def _race(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(n):
        barrier.wait()
        try:
            results[n] = work(n)
        except Exception as exc:  # collected and asserted on below
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_one_code_is_accepted_once_even_by_parallel_workers(committing_app):
    with committing_app.app_context():
        user = services.create_user(Actor.system("t"), email="racer@example.com", display_name="Racer",
                                    role=Role.ADMIN, password=DEFAULT_PASSWORD)
        secret = pyotp.random_base32()
        db.session.add(TotpCredential(user_id=user.id, secret=secret, confirmed_at=utcnow()))
        db.session.commit()
        user_id = user.id
    code = pyotp.TOTP(secret).now()

    def claim(_n):
        with committing_app.app_context():
            racer = db.session.get(User, user_id)
            try:
                totp.verify_totp(Actor.for_user(racer), racer, code, purpose="race")
                db.session.commit()
                return "accepted"
            except two_factor.CodeReplayed:
                db.session.rollback()
                return "replayed"

    results = _race(6, claim)
    assert sorted(results) == ["accepted"] + ["replayed"] * 5, results


def test_two_superadmins_demoting_each_other_leave_one(committing_app):
    with committing_app.app_context():
        ids = [services.create_user(Actor.system("t"), email=f"root{n}@example.com", display_name=f"Root {n}",
                                    role=Role.SUPERADMIN, password=DEFAULT_PASSWORD).id for n in range(2)]
        db.session.commit()

    def demote(n):
        with committing_app.app_context():
            me, other = db.session.get(User, ids[n]), db.session.get(User, ids[1 - n])
            try:
                administration.update_user(Actor.for_user(me), other, display_name=other.display_name,
                                           role=Role.ADMIN, institution_id=None, expected_version=other.version)
                time.sleep(0.2)  # hold the row locks a moment so the other demotion must wait
                db.session.commit()
                return "demoted"
            except administration.LastSuperadmin:
                db.session.rollback()
                return "refused"

    results = _race(2, demote)
    assert sorted(results) == ["demoted", "refused"], results
    with committing_app.app_context():
        assert administration.count_active_superadmins() == 1


def test_the_lock_counter_is_shared_by_workers_on_redis(app, app_config, db, make_user):
    from tests.conftest import build_app

    other_worker = build_app(app_config)
    user = make_user(Role.ADMIN, with_2fa=True)
    for n in range(10):
        worker = app if n % 2 else other_worker
        with worker.app_context():
            two_factor.SECOND_FACTOR_SHORT.clear(f"user:{user.id}")
            with pytest.raises(two_factor.SecondFactorLocked if n == 9 else two_factor.CodeRejected):
                totp.verify_totp(Actor.for_user(user), user, "000000", purpose="test")
            db.session.commit()
    db.session.refresh(user)
    assert user.two_factor_locked_at is not None


def test_sessions_page_lists_and_ends_sessions_in_redis(app, client, forms, make_user, login_as):
    user = make_user(Role.CUSTOMER, with_2fa=True)
    elsewhere = FormClient(app.test_client())
    elsewhere.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD})
    elsewhere.post("/login/two-factor", {"code": totp_code(user)}, page="/login/two-factor")
    login_as(user)
    listed = app.session_interface.sessions_for_user(user.id)
    assert len(listed) == 2
    forms.post("/account/sessions/end", {"scope": "others"}, page="/account/sessions")
    assert elsewhere.client.get("/account").status_code == 302
    assert client.get("/account").status_code == 200
    assert len(app.session_interface.sessions_for_user(user.id)) == 1


def test_invitation_mail_through_a_real_smtp_server(app, db, client, forms, make_user, login_as, monkeypatch,
                                                    smtp_server):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "SMTP_HOST", smtp_server.hostname)
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)
    monkeypatch.setitem(app.config, "SMTP_STARTTLS", False)
    monkeypatch.setitem(app.config, "SMTP_USERNAME", None)
    login_as(make_user(Role.SUPERADMIN))
    forms.post("/users/new", {"email": "smtp.person@example.com", "display_name": "Smtp Person",
                              "role": "admin", "institution_id": "None"})
    message = smtp_server.wait_for("smtp.person@example.com")
    assert message["Subject"] == "Your invitation to Saintara Admin"
    link = link_in(message, "/invitation/")
    visitor = FormClient(app.test_client())
    done = visitor.post(link, {"new_password": "a brand new passphrase", "confirm_password": "a brand new passphrase"})
    assert done.headers["Location"] == "/login"
    invited = db.session.scalars(select(User).where(User.email == "smtp.person@example.com")).one()
    db.session.refresh(invited)
    assert invited.password_hash is not None


def test_keyset_paging_and_filters_on_postgres(db, client, make_user, make_institution, login_as):
    boss = make_user(Role.SUPERADMIN, email="a-boss@example.com")
    bank = make_institution()
    for n in range(7):
        make_user(Role.CUSTOMER, email=f"cust{n:02d}@example.com", institution=bank, with_2fa=n % 2 == 0)
    login_as(boss)
    seen = []
    url = f"/users?institution={bank.id}&two_factor=on"
    size = client.application.config.get("LIST_PAGE_SIZE")
    client.application.config["LIST_PAGE_SIZE"] = 2
    try:
        while url:
            page = client.get(url).get_data(as_text=True)
            seen += re.findall(r'<td[^>]*><a href="/users/\d+">([^<]+)</a></td>', page)
            found = re.search(r'rel="next" href="([^"]+)"', page)
            url = found.group(1).replace("&amp;", "&") if found else None
    finally:
        if size is None:
            client.application.config.pop("LIST_PAGE_SIZE")
        else:
            client.application.config["LIST_PAGE_SIZE"] = size
    assert seen == [f"cust{n:02d}@example.com" for n in (0, 2, 4, 6)]
