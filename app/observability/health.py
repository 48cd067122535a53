"""Liveness and readiness probes for the proxy, the orchestrator and monitoring."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

# Up a layer, on purpose: the probes are views, and every view declares who may use it at the view.
from app.access_rules import public
from app.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    """The process is alive and answering (no dependency is checked)."""
    return jsonify(status="ok")


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
    except Exception as exc:  # any failure of a dependency makes the check fail
        result = {"status": "fail", "error": type(exc).__name__}
    else:
        result = {"status": "ok", **(detail or {})}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def _check_database() -> dict:
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
    return {"backend": db.engine.dialect.name}


def _check_redis() -> dict:
    if not current_app.config.get("REDIS_URL"):
        return {"backend": "embedded"}
    current_app.session_interface.store.ping()
    return {"backend": "redis"}


@bp.get("/readyz")
@public
def readyz():
    """Database and Redis answer; 503 with the failing check named when one does not."""
    checks = {"database": _timed(_check_database), "redis": _timed(_check_redis)}
    ready = all(c["status"] == "ok" for c in checks.values())
    response = jsonify(status="ok" if ready else "fail", checks=checks)
    response.status_code = 200 if ready else 503
    return response
