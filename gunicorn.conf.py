"""gunicorn settings, from the environment. Start: gunicorn -c gunicorn.conf.py wsgi:app"""

import multiprocessing
import os

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


def on_starting(server):
    """Refuse to start the master when the configuration is unsafe (one clear line)."""
    from app.config import ConfigError, load_config

    try:
        load_config()
    except ConfigError as exc:
        raise SystemExit(f"Configuration error: {exc}") from None
