"""Prometheus metrics: what the portal counts, and the protected ``/metrics`` page.

Counters and histograms are plain ``prometheus_client`` objects. Under gunicorn,
``gunicorn.conf.py`` sets ``PROMETHEUS_MULTIPROC_DIR`` before any worker imports this
module, so every worker writes its own files and a scrape (answered by any one worker)
adds them all up; ``child_exit`` marks a finished worker dead. Domain gauges (pending
approvals, admins with two-factor, backups, the audit chain) are computed when
Prometheus scrapes, from cheap indexed queries (app.observability.gauges).

``/metrics`` answers only to ``Authorization: Bearer <METRICS_TOKEN>`` or to an address
in ``METRICS_ALLOWED_IPS``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from flask import Blueprint, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest

# Up a layer, on purpose: /metrics is a view, and every view declares who may use it at the view.
from app.access_rules import public
from app.observability.gauges import DomainCollector

PREFIX = "saintara_"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "saintara_http_requests", "Requests answered, by templated route, method and status.",
    ["route", "method", "status"])
HTTP_DURATION = Histogram(
    "saintara_http_request_duration_seconds", "Time to answer a request, by templated route and method.",
    ["route", "method"], buckets=LATENCY_BUCKETS)
HTTP_EXCEPTIONS = Counter(
    "saintara_http_exceptions", "Requests that raised an unhandled exception, by route and exception type.",
    ["route", "exception"])
CACHE_REQUESTS = Counter(
    "saintara_cache_requests",
    "Shared cache reads by cache and result (hit, stale, wait, miss, error).", ["cache", "result"])
RATELIMIT_REJECTIONS = Counter(
    "saintara_ratelimit_rejections", "Requests refused with 429, by declared limit.", ["limit"])
RATELIMIT_FALLBACKS = Counter(
    "saintara_ratelimit_fallbacks",
    "Limit checks made while the limiter's Redis did not answer: counted per process, or let through.",
    ["limit", "action"])
SIGN_INS = Counter(
    "saintara_sign_ins", "Password sign-in attempts by result (success, failure, throttled).", ["result"])

bp = Blueprint("metrics", __name__)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def registry() -> CollectorRegistry:
    """A registry with every worker's metrics plus the domain gauges, for one scrape."""
    scrape = CollectorRegistry()
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(scrape)
    else:
        scrape.register(_ProcessMetrics())
    scrape.register(DomainCollector())
    return scrape


class _ProcessMetrics:
    """This process's own metrics (single-process mode: ``flask run``, tests)."""

    def collect(self):
        return REGISTRY.collect()


def _allowed_address(address: str | None) -> bool:
    networks = current_app.config.get("METRICS_ALLOWED_IPS") or ()
    if not address or not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _token_matches(header: str) -> bool:
    expected = current_app.config.get("METRICS_TOKEN")
    scheme, _sep, given = header.partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), expected)


@bp.get("/metrics")
@public  # guarded below: a bearer token or an allow-listed address, never a session
def scrape():
    """The Prometheus exposition of this deployment (all workers)."""
    header = request.headers.get("Authorization", "")
    if not (_token_matches(header) if header else _allowed_address(request.remote_addr)):
        body = {"error": {"code": "metrics_forbidden", "request_id": g.get("request_id"),
                          "message": "Send Authorization: Bearer <METRICS_TOKEN>, or scrape from an allowed address."}}
        headers = {} if header else {"WWW-Authenticate": 'Bearer realm="metrics"'}
        return jsonify(body), 403 if header else 401, headers
    return Response(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


def init_app(app) -> None:
    """Register /metrics; series with known labels start at zero (a rate needs a first sample).
    The rate-limit series are started by app.security.limiting, which declares the limits."""
    for result in ("success", "failure", "throttled"):
        SIGN_INS.labels(result)
    app.register_blueprint(bp)
