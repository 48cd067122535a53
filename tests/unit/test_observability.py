"""Request logs (one JSON line each), the protected /metrics page, and what it counts."""

from __future__ import annotations

import ipaddress
import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.observability import metrics
from app.observability.logs import JsonFormatter, redact
from app.users.models import Role
from tests.conftest import DEFAULT_PASSWORD

METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef"


def request_lines(captured: str) -> list[dict]:
    lines = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "saintara.request"]


def test_one_json_line_per_request_with_its_fields(app, make_user, client_for, capsys):
    user = make_user(Role.ADMIN)
    capsys.readouterr()
    response = client_for(user).get("/transactions?q=TRX-1", headers={"X-Request-ID": "req-abcdef-123456"})
    assert response.headers["X-Request-ID"] == "req-abcdef-123456"
    lines = request_lines(capsys.readouterr().err)
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "req-abcdef-123456" and line["user_id"] == user.id
    assert line["route"] == "/transactions" and line["method"] == "GET" and line["status"] == 200
    assert line["level"] == "INFO" and line["time"].endswith("Z") and line["duration_ms"] > 0
    assert "TRX-1" not in json.dumps(line)  # no query string


def test_request_ids_are_made_when_missing_or_unsafe(app, capsys):
    client = app.test_client()
    made = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert len(made) == 32 and "<" not in made
    line = request_lines(capsys.readouterr().err)[-1]
    assert line["request_id"] == made and "user_id" not in line


def test_secret_urls_are_logged_by_their_route_only(app, capsys):
    app.test_client().get("/reset-password/very-secret-reset-token-abcdef")
    captured = capsys.readouterr().err
    assert "very-secret-reset-token-abcdef" not in captured
    assert request_lines(captured)[-1]["route"] == "/reset-password/<token>"


def test_log_lines_escape_line_breaks_and_redact_secrets():
    record = logging.LogRecord("app.x", logging.WARNING, __file__, 1,
                               "user typed\r\nFAKE LINE password=hunter2hunter2 with sat_abcdefghijkl0123 and %s",
                               ("Bearer sat_qwertyuiop123456",), None)
    line = JsonFormatter().format(record)
    assert "\n" not in line and "\r" not in line and "\\r\\n" in line
    assert "hunter2hunter2" not in line and "sat_abcdefghijkl0123" not in line and "qwertyuiop" not in line
    assert json.loads(line)["level"] == "WARNING"
    assert redact("token=abc123def&x=1") == "token=[REDACTED]&x=1"


def test_metrics_need_the_token_or_an_allowed_address(app, monkeypatch, make_user, client_for):
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"].startswith("Bearer")
    monkeypatch.setitem(app.config, "METRICS_TOKEN", METRICS_TOKEN)
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403 and wrong.get_json()["error"]["code"] == "metrics_forbidden"
    assert client_for(make_user(Role.SUPERADMIN)).get("/metrics").status_code == 401  # a session is not enough
    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200 and scraped.mimetype == "text/plain"
    monkeypatch.setitem(app.config, "METRICS_ALLOWED_IPS", (ipaddress.ip_network("127.0.0.0/8"),))
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    monkeypatch.setitem(app.config, "METRICS_ALLOWED_IPS", (ipaddress.ip_network("10.0.0.0/8"),))
    assert client.get("/metrics").status_code == 401


def scrape(app, monkeypatch) -> dict[str, list]:
    monkeypatch.setitem(app.config, "METRICS_TOKEN", METRICS_TOKEN)
    text = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(
        as_text=True)
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples, name: str, **labels) -> float:
    return sum(s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items()))


def test_requests_are_counted_by_templated_route_and_status(app, monkeypatch, make_user, client_for):
    before = scrape(app, monkeypatch)
    browser = client_for(make_user(Role.ADMIN))
    for _ in range(3):
        browser.get("/transactions/987654")  # a 404 of a real route
    app.test_client().get("/no/such/page")
    after = scrape(app, monkeypatch)
    route = "/transactions/<int:transaction_id>"
    key = dict(route=route, method="GET", status="404")
    assert value(after, "saintara_http_requests_total", **key) == value(before, "saintara_http_requests_total",
                                                                        **key) + 3
    assert value(after, "saintara_http_request_duration_seconds_count", route=route, method="GET") == value(
        before, "saintara_http_request_duration_seconds_count", route=route, method="GET") + 3
    assert value(after, "saintara_http_requests_total", route="unmatched", status="404") >= 1
    assert not any("987654" in str(s.labels) for samples in after.values() for s in samples)


def test_unhandled_exceptions_are_counted(app_config, monkeypatch):
    from tests.conftest import build_app

    other = build_app({**app_config, "PROPAGATE_EXCEPTIONS": False})

    @other.get("/explode")
    @__import__("app.security.access", fromlist=["public"]).public
    def explode():
        raise KeyError("boom")

    before = metrics.HTTP_EXCEPTIONS.labels("/explode", "KeyError")._value.get()
    assert other.test_client().get("/explode").status_code == 500
    assert metrics.HTTP_EXCEPTIONS.labels("/explode", "KeyError")._value.get() == before + 1
    assert metrics.HTTP_REQUESTS.labels("/explode", "GET", "500")._value.get() >= 1


def test_sign_ins_are_counted_by_result(make_user, forms):
    user = make_user(Role.CUSTOMER)
    before = {r: metrics.SIGN_INS.labels(r)._value.get() for r in ("success", "failure")}
    forms.post("/login", {"email": user.email, "password": "wrong password here"})
    forms.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert metrics.SIGN_INS.labels("failure")._value.get() == before["failure"] + 1
    assert metrics.SIGN_INS.labels("success")._value.get() == before["success"] + 1


def test_domain_gauges_are_computed_at_scrape_time(app, db, monkeypatch, make_user, make_approval,
                                                   make_transaction):
    make_user(Role.SUPERADMIN, with_2fa=True)
    make_user(Role.ADMIN)
    make_approval()
    make_approval(status="approved")
    make_transaction()
    db.session.commit()
    samples = scrape(app, monkeypatch)
    assert value(samples, "saintara_pending", kind="approval") == 1
    assert value(samples, "saintara_pending", kind="transaction") == 1
    assert value(samples, "saintara_admins_two_factor_ratio") == pytest.approx(0.5)
    assert value(samples, "saintara_gauge_errors") == 0


def test_a_failing_gauge_is_reported_not_fatal(app, monkeypatch):
    from app.observability import gauges

    def broken():
        raise RuntimeError("no database")

    monkeypatch.setitem(gauges.GAUGES, "pending", broken)
    samples = scrape(app, monkeypatch)
    assert value(samples, "saintara_gauge_errors", gauge="pending") == 1
    assert "saintara_admins_two_factor_ratio" in samples


def test_backup_drill_and_chain_gauges_read_stored_results(app, db, monkeypatch):
    import math
    from datetime import timedelta

    from app.audit.chain import ChainBreak, ChainReport
    from app.audit.integrity import record_verification
    from app.backups.models import Backup
    from app.database import utcnow

    samples = scrape(app, monkeypatch)
    assert math.isinf(value(samples, "saintara_backup_newest_verified_age_seconds"))  # none yet: too old
    assert math.isnan(value(samples, "saintara_restore_drill_last_success"))
    assert math.isnan(value(samples, "saintara_audit_chain_ok"))
    now = utcnow()

    def backup(backup_id, created, drill_status, drilled):
        return Backup(id=backup_id, created_at=created, kind="scheduled", engine="sqlite", created_by="t",
                      size_bytes=1, compression="zstd", encrypted=False, storage="local", manifest={},
                      verify_status="passed", verified_at=created, drill_status=drill_status, drilled_at=drilled)

    db.session.add_all([
        backup("20260101T000000Z-aaaaaa", now - timedelta(hours=30), "passed", now - timedelta(hours=29)),
        backup("20260102T000000Z-bbbbbb", now - timedelta(hours=2), "failed", now - timedelta(hours=1))])
    broken = ChainReport(checked=10, head_id=10, head_hash="0" * 64, first_break=ChainBreak(4, "modified", "x"))
    record_verification(broken, started_at=now, finished_at=now, source="test")
    db.session.commit()
    samples = scrape(app, monkeypatch)
    assert value(samples, "saintara_backup_newest_verified_age_seconds") == pytest.approx(2 * 3600, abs=60)
    assert value(samples, "saintara_restore_drill_last_success") == 0  # the newest drill failed
    assert value(samples, "saintara_restore_drill_last_timestamp_seconds") == pytest.approx(
        (now - timedelta(hours=1)).timestamp(), abs=1)
    assert value(samples, "saintara_audit_chain_ok") == 0
    assert value(samples, "saintara_gauge_errors") == 0
