"""The dashboard by role: counts, charts drawn as SVG, status cards, cache invalidated by writes."""

import re
from datetime import timedelta

from app.audit import services as audit
from app.audit.models import AuditAction, AuditResult
from app.dashboard import charts, status
from app.dashboard.cache import cached, clear_dashboard_cache
from app.dashboard.services import chart_days
from app.database import utcnow
from app.extensions import cache
from app.platform.services import decisions
from app.security.actor import Actor
from app.users.models import Role


def stat(page: str, key: str) -> str:
    """The text of a stat card's value (tags such as the no-wrap money span left out)."""
    value = re.search(rf'data-testid="stat-{key}">(.*?)</div>', page, re.S).group(1)
    return re.sub(r"<[^>]+>", "", value).strip()


def test_counts_charts_and_security_cards_for_a_superadmin(db, make_user, make_transaction, make_approval,
                                                           make_customer, staff):
    make_transaction(amount_idr=1_000_000)
    make_transaction(amount_idr=500_000)
    make_transaction(status="approved")
    make_approval()
    make_approval(status="rejected")
    make_customer(created_at=utcnow() - timedelta(days=20))
    audit.log(Actor(user_id=None, email="x@example.com"), AuditAction.LOGIN_FAILURE, result=AuditResult.FAILURE)
    audit.log(Actor(user_id=None, email="x@example.com"), AuditAction.LOGIN_FAILURE, result=AuditResult.FAILURE,
              occurred_at=utcnow() - timedelta(days=2))
    db.session.commit()
    page = staff(make_user(Role.SUPERADMIN)).client.get("/dashboard").get_data(as_text=True)
    assert stat(page, "pending-transactions") == "2" and stat(page, "pending-amount") == "IDR\u00a01,500,000"
    assert stat(page, "pending-approvals") == "1" and stat(page, "sign-in-failures") == "1"
    assert stat(page, "new-customers") == "3"  # three made now by the factories, one 20 days ago
    assert 'data-testid="chart-transactions"' in page and '<rect class="chart-bar chart-bar-transactions"' in page
    assert '<rect class="chart-bar chart-bar-rejected"' in page and "style=" not in page
    for name in status.CARDS:
        assert f'data-testid="status-{name}"' in page
    assert page.count("Not available") == 0  # every card's feature is installed
    assert "No backup has passed verification yet." in page  # the backups feature's card


def test_institution_admin_sees_only_their_institution_and_no_security_cards(db, make_user, make_transaction,
                                                                              make_customer, staff):
    own = make_customer()
    make_transaction(customer=own)
    make_transaction()
    page = staff(make_user(Role.INSTITUTION_ADMIN, institution=own.institution)).client.get("/dashboard").get_data(
        as_text=True)
    assert stat(page, "pending-transactions") == "1" and stat(page, "institutions") == "1"
    assert "sign-in-failures" not in page and "status-audit_chain" not in page
    admin_page = staff(make_user(Role.ADMIN)).client.get("/dashboard").get_data(as_text=True)
    assert stat(admin_page, "pending-transactions") == "2" and "status-audit_chain" not in admin_page


def test_a_decision_clears_the_cached_figures(db, make_user, make_transaction, staff):
    tx = make_transaction()
    forms = staff(make_user(Role.ADMIN))
    assert stat(forms.client.get("/dashboard").get_data(as_text=True), "pending-transactions") == "1"
    make_transaction()  # written behind the services' back: the cached figure stays for up to a minute
    make_transaction()
    db.session.commit()
    assert stat(forms.client.get("/dashboard").get_data(as_text=True), "pending-transactions") == "1"
    forms.post(f"/transactions/{tx.id}/decide", {"approve": "1"}, page=f"/transactions/{tx.id}")
    assert stat(forms.client.get("/dashboard").get_data(as_text=True), "pending-transactions") == "2"


def test_an_approval_decision_clears_the_cache_too(db, make_user, make_approval, staff):
    approval = make_approval()
    forms = staff(make_user(Role.ADMIN))
    assert stat(forms.client.get("/dashboard").get_data(as_text=True), "pending-approvals") == "1"
    make_approval()
    make_approval()
    db.session.commit()
    assert stat(forms.client.get("/dashboard").get_data(as_text=True), "pending-approvals") == "1"
    forms.post(f"/approvals/{approval.id}/decide", {"approve": "1"}, page=f"/approvals/{approval.id}")
    assert stat(forms.client.get("/dashboard").get_data(as_text=True), "pending-approvals") == "2"
    page = forms.client.get("/dashboard").get_data(as_text=True)
    assert '<rect class="chart-bar chart-bar-approved"' in page


def test_rollback_keeps_the_cache(db, make_transaction):
    calls = []
    assert cached("probe", None, lambda: calls.append(1) or 5) == 5
    assert cached("probe", None, lambda: calls.append(1) or 6) == 5
    decisions.decide_transaction(Actor.system("t"), make_transaction().id, approve=True)
    db.session.rollback()
    assert cached("probe", None, lambda: 7) == 5
    clear_dashboard_cache()
    assert cached("probe", None, lambda: 8) == 8


def test_past_days_survive_an_ordinary_clear(db, make_transaction):
    from app.dashboard.services import compute_figures

    make_transaction(created_at=utcnow() - timedelta(days=3))
    db.session.commit()
    assert sum(n for _d, n in compute_figures(None).transactions_per_day) == 1
    make_transaction(created_at=utcnow() - timedelta(days=3))  # backdated, behind the services' back
    make_transaction()  # today: counted live
    db.session.commit()
    clear_dashboard_cache()
    assert sum(n for _d, n in compute_figures(None).transactions_per_day) == 2
    clear_dashboard_cache(history=True)
    assert sum(n for _d, n in compute_figures(None).transactions_per_day) == 3


def test_cache_outage_computes_directly(db, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)
    assert cached("probe", 3, lambda: 9) == 9
    clear_dashboard_cache()  # logs, does not raise


def test_generation_race_reads_the_winner(db, monkeypatch):
    monkeypatch.setattr(cache, "add", lambda *a, **k: False)
    cache.delete("gen:dashboard")
    real_get = cache.get
    calls = iter([None, "winner"])
    monkeypatch.setattr(cache, "get", lambda key: next(calls) if key == "gen:dashboard" else real_get(key))
    assert cached("race", None, lambda: 1) == 1


def test_status_providers_plug_into_their_cards(app, db, make_user, staff):
    forms = staff(make_user(Role.SUPERADMIN))
    saved = dict(app.extensions.get("dashboard_status_providers", {}))
    try:
        status.register_status_provider(app, "audit_chain", lambda: status.Reading(
            "ok", "Verified", "12,345 entries", as_of=utcnow()))

        def broken():
            raise RuntimeError("backup store unreachable")

        status.register_status_provider(app, "newest_verified_backup", broken)
        page = forms.client.get("/dashboard").get_data(as_text=True)
        assert "Verified" in page and "12,345 entries" in page and "status-ok" in page
        assert "Could not be read" in page and page.count("Not available") == 0
    finally:
        app.extensions["dashboard_status_providers"] = saved
    try:
        status.register_status_provider(app, "nonsense", lambda: None)
    except KeyError as exc:
        assert "unknown dashboard status card" in str(exc)
    else:
        raise AssertionError("an unknown card name must be refused")


def test_bar_chart_geometry():
    days = chart_days(utcnow().date())
    chart = charts.bar_chart(days[:3], [("a", [0, 3, 7]), ("b", [0, 0, 3])])
    assert charts.nice_top(10) == 10 and charts.nice_top(11) == 20 and charts.nice_top(0) == 1
    assert [b.value for b in chart.bars] == [3, 7, 3] and not chart.empty
    stacked_top = [b for b in chart.bars if b.series == "b"][0]
    assert stacked_top.y < [b for b in chart.bars if b.series == "a" and b.value == 7][0].y
    assert chart.y_ticks[-1].label == "10" and len(chart.x_ticks) == 1
    assert charts.bar_chart(days, [("a", [0] * len(days))]).empty
    assert len(days) == 30 and days[-1] - days[0] == timedelta(days=29)


def test_empty_dashboard(db, make_user, staff):
    page = staff(make_user(Role.ADMIN)).client.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="chart-transactions-empty"' in page and "Nothing in the last 30 days." in page


def test_two_factor_card_counts_users_who_must_but_do_not(db, make_user, staff):
    import re

    make_user(Role.ADMIN)  # required by the default policy, no second factor
    make_user(Role.ADMIN, with_2fa=True)
    make_user(Role.INSTITUTION_ADMIN)  # not required by default
    make_user(Role.ADMIN, active=False)  # inactive accounts do not count
    viewer = make_user(Role.SUPERADMIN, with_2fa=True)
    page = staff(viewer).client.get("/dashboard").get_data(as_text=True)
    card = page[page.index('data-testid="status-users_without_two_factor"'):]
    card = card[:card.index("</div>\n  </div>")] if "</div>\n  </div>" in card else card[:800]
    assert "status-warning" in page
    assert re.search(r">\s*1\s*<", card) and "of 3 users whose role requires it" in card


def test_audit_chain_card_reads_the_last_verification(db, runner, make_user, staff, write_audit):
    from sqlalchemy import text

    viewer = staff(make_user(Role.SUPERADMIN, with_2fa=True))

    def card():
        page = viewer.client.get("/dashboard").get_data(as_text=True)
        start = page.index('data-testid="status-audit_chain"')
        return page[start - 120:start + 600]

    assert "Never verified" in card() and "status-warning" in card()
    write_audit("USER_UPDATE", description="first")
    write_audit("USER_UPDATE", description="second")
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    assert "Verified" in card() and "status-ok" in card()
    first = db.session.execute(text("SELECT min(id) FROM audit_logs")).scalar()
    db.session.execute(text("UPDATE audit_logs SET description = 'forged' WHERE id = :id"), {"id": first})
    db.session.commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 1
    assert "Broken" in card() and "status-danger" in card()
