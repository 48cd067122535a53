"""Liveness and readiness probes."""

from app.observability import health


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_reports_each_check_with_its_latency(client):
    body = client.get("/readyz").get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok" and body["checks"]["database"]["backend"] == "sqlite"
    assert body["checks"]["redis"] == {**body["checks"]["redis"], "status": "ok", "backend": "embedded"}
    assert all("latency_ms" in check for check in body["checks"].values())


def test_readyz_is_503_when_a_check_fails(client, monkeypatch):
    def down():
        raise ConnectionError("database is down")

    monkeypatch.setattr(health, "_check_database", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    check = response.get_json()["checks"]["database"]
    assert check == {"status": "fail", "error": "ConnectionError", "latency_ms": check["latency_ms"]}
