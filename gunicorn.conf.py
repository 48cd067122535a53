"""gunicorn settings, from the environment. Start: gunicorn -c gunicorn.conf.py wsgi:app"""

import multiprocessing
import os
import re
import shutil
import tempfile

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# The proxy in front sets X-Forwarded-*; the app trusts TRUSTED_PROXY_COUNT hops of it.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200


def _control_socket_path(bind_address: str) -> str:
    """The control socket of this instance: one per bind address, in a directory only this user may enter.

    gunicorn's own default is one path per user ($XDG_RUNTIME_DIR/gunicorn.ctl): a second instance
    on the host would take it over, and the first one to stop would delete it under the other.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        directory = os.path.join(runtime, "saintara-gunicorn")
    else:
        directory = os.path.join(tempfile.gettempdir(), f"saintara-gunicorn-{os.getuid()}")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if os.stat(directory).st_uid != os.getuid():
        raise SystemExit(f"Configuration error: {directory} belongs to another user; set GUNICORN_CONTROL_SOCKET")
    name = re.sub(r"[^A-Za-z0-9.-]+", "_", bind_address).strip("_")[:60] or "default"
    return os.path.join(directory, f"{name}.ctl")


# gunicorn's control socket (the `gunicornc` tool): GUNICORN_CONTROL_SOCKET names its path, "off"
# switches it off; by default every instance has its own, named after its bind address.
_control_setting = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
if _control_setting.lower() in {"off", "0", "false", "no", "none"}:
    control_socket_disable = True
else:
    control_socket = _control_setting or _control_socket_path(bind)


# Prometheus metrics in multi-process mode: every worker writes its counters to files in
# this directory and a scrape (answered by any worker) adds them all up. It must be set
# before a worker imports prometheus_client, so here, in the master; each start begins
# with an empty directory (a directory of its own unless PROMETHEUS_MULTIPROC_DIR says).
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="saintara-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_starting(server):
    """Refuse to start the master when the configuration is unsafe (one clear line); empty the metrics dir."""
    from app.config import ConfigError, load_config

    try:
        load_config()
    except ConfigError as exc:
        raise SystemExit(f"Configuration error: {exc}") from None
    os.makedirs(_metrics_dir, exist_ok=True)
    for name in os.listdir(_metrics_dir):
        path = os.path.join(_metrics_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def child_exit(server, worker):
    """A worker ended: its live gauges stop counting (its counters stay in the sum)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory this start made for itself."""
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
