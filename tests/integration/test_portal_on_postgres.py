"""The portal's flows on PostgreSQL: demo data, dashboard, sign-in, concurrency guard."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm.exc import StaleDataError

from app.audit.models import AuditLog
from app.platform.models import Transaction
from app.users.models import Role, User

pytestmark = pytest.mark.integration


def test_demo_data_dashboard_and_chain_on_postgres(db, runner, make_user, client_for):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    verify = runner.invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output
    pending = db.session.scalar(select(func.count()).select_from(Transaction).where(Transaction.status == "pending"))
    page = client_for(make_user(Role.SUPERADMIN)).get("/dashboard").get_data(as_text=True)
    assert f'data-testid="stat-pending-transactions">{pending:,}<' in page
    assert 'data-testid="stat-institutions">20<' in page


def test_institution_admin_dashboard_counts_only_their_institution(db, runner, make_user, client_for):
    runner.invoke(args=["seed-demo"])
    institution_id = db.session.scalar(select(Transaction.institution_id).limit(1))
    own = db.session.scalar(select(func.count()).select_from(Transaction)
                            .where(Transaction.status == "pending", Transaction.institution_id == institution_id))
    from app.platform.models import Institution

    admin = make_user(Role.INSTITUTION_ADMIN, institution=db.session.get(Institution, institution_id))
    page = client_for(admin).get("/dashboard").get_data(as_text=True)
    assert f'data-testid="stat-pending-transactions">{own:,}<' in page
    assert 'data-testid="stat-institutions">1<' in page
    recent = db.session.scalars(select(AuditLog.institution_id).order_by(AuditLog.id.desc()).limit(200)).all()
    assert set(recent) - {institution_id}, "the demo history spans several institutions"


def test_optimistic_version_refuses_a_stale_write(app, db, make_user):
    user = make_user(Role.ADMIN)
    db.session.execute(text("UPDATE users SET version = version + 1 WHERE id = :id"), {"id": user.id})
    user.display_name = "Stale edit"
    with pytest.raises(StaleDataError):
        db.session.flush()


def test_email_is_unique_whatever_its_case(db, make_user):
    from app.security.actor import Actor
    from app.users import services

    make_user(Role.ADMIN, email="dewi@example.com")
    with pytest.raises(services.EmailTaken):
        services.create_user(Actor.system("test"), email="DEWI@example.com", display_name="Dewi", role=Role.ADMIN)
    with pytest.raises(Exception, match="email_lowercase"):
        db.session.execute(text(
            "INSERT INTO users (email, display_name, role, is_active, version) "
            "VALUES ('Upper@Example.com', 'x', 'admin', true, 1)"))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User)) == 1  # only dewi


def test_institutions_sort_case_insensitively_on_postgres_through_the_index(app, db, make_user, make_institution,
                                                                             client_for, monkeypatch):
    import re

    for name in ("zeta Koperasi", "Alpha Koperasi", "beta Koperasi", "Gamma Koperasi"):
        make_institution(name=name)
    monkeypatch.setitem(app.config, "LIST_PAGE_SIZE", 3)
    client = client_for(make_user(Role.SUPERADMIN))
    first = client.get("/institutions?q=koperasi").get_data(as_text=True)
    names = re.findall(r'<a href="/institutions/\d+">([^<]+)</a>', first)
    following = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    names += re.findall(r'<a href="/institutions/\d+">([^<]+)</a>', client.get(following).get_data(as_text=True))
    assert names == ["Alpha Koperasi", "beta Koperasi", "Gamma Koperasi", "zeta Koperasi"]
    db.session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: ask whether the index can serve
    plan = "\n".join(db.session.execute(text(
        "EXPLAIN SELECT id FROM institutions ORDER BY lower(name), id LIMIT 3")).scalars())
    assert "ix_institutions_name_order" in plan
