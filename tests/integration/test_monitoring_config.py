"""Alert rules pass promtool; dashboards and alerts name only metrics the portal exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
METRICS_TOKEN = "monitoring-config-test-token-0123456789"
# Functions, keywords and label names that PromQL expressions use besides metric names.
PROMQL_WORDS = {"sum", "by", "rate", "increase", "histogram_quantile", "clamp_min", "le", "route", "status",
                "result", "cache", "limit", "action", "exception", "kind", "job", "instance", "method", "up",
                "__rate_interval"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed; run `make prometheus` (or `make test`)", pytrace=False)
    return path


def test_alert_rules_pass_promtool():
    result = subprocess.run([promtool(), "check", "rules", str(MONITORING / "prometheus/alerts.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_rules_fire_when_they_should():
    result = subprocess.run([promtool(), "test", "rules", "alerts_test.yml"], cwd=MONITORING / "prometheus",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_example_prometheus_config_is_valid(tmp_path):
    config = (MONITORING / "prometheus/prometheus.yml").read_text()
    (tmp_path / "token").write_text("x")
    shutil.copy(MONITORING / "prometheus/alerts.yml", tmp_path / "alerts.yml")
    config = config.replace("/etc/prometheus/saintara/alerts.yml", str(tmp_path / "alerts.yml")).replace(
        "/etc/prometheus/saintara-metrics-token", str(tmp_path / "token"))
    (tmp_path / "prometheus.yml").write_text(config)
    result = subprocess.run([promtool(), "check", "config", str(tmp_path / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def expressions() -> dict[str, str]:
    found = {}
    for path in sorted((MONITORING / "grafana").glob("*.json")):
        dashboard = json.loads(path.read_text())

        def walk(panels, name=path.name):
            for panel in panels:
                for target in panel.get("targets", []):
                    found[f"{name}: {panel['title']}"] = target["expr"]
                walk(panel.get("panels", []), name)

        walk(dashboard["panels"])
    for group in yaml.safe_load((MONITORING / "prometheus/alerts.yml").read_text())["groups"]:
        for rule in group["rules"]:
            found[f"alerts.yml: {rule['alert']}"] = rule["expr"]
    return found


def metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that are not functions, keywords, labels or values."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", without_strings)
    without_numbers = re.sub(r"(?<![A-Za-z0-9_:])\d[\d.]*(e[+-]?\d+)?", "", without_labels)
    return {word for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_numbers) if word not in PROMQL_WORDS}


def test_dashboards_and_alerts_name_only_exported_metrics(app, monkeypatch, client):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", METRICS_TOKEN)
    client.get("/login")  # at least one request of each kind the panels read
    text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    exported = {family.name + suffix for family in text_string_to_metric_families(text)
                for suffix in suffixes.get(family.type, ("",))}
    exported.add("up")  # Prometheus' own, per target
    named = {name: metric_names(expr) for name, expr in expressions().items()}
    assert any(names for names in named.values())
    missing = {where: sorted(names - exported) for where, names in named.items() if names - exported}
    assert not missing, f"these name metrics the portal does not export: {missing}"
    panels = " ".join(named)
    for wanted in ("Traffic", "Latency p95", "Error rate", "Sign-ins", "Cache hit rate", "backup age"):
        assert wanted in panels, wanted
