"""Configuration, read once from the environment (12-factor).

With no DATABASE_URL / REDIS_URL the portal runs on the embedded default: an SQLite file under
``instance/`` and in-process stores for sessions, cache and rate limits. With ``APP_ENV=production``
a missing or weak secret, a missing database or Redis URL, or debug mode stops start-up with one
line naming the problem (:class:`ConfigError`)."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet

from app import redis_clients, vapid

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_PATH = PROJECT_ROOT / "instance"

ENVIRONMENTS = ("development", "production", "test")
MIN_SECRET_KEY_LENGTH = 32
_WEAK_SECRETS = {"changeme", "change-me", "secret", "dev", "development", "password", "default"}


class ConfigError(Exception):
    """The environment does not describe a safe configuration; the message is one line."""


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def is_weak_secret(value: str) -> bool:
    """True when a SECRET_KEY is too short, a well-known placeholder, or repetitive."""
    stripped = value.strip()
    return len(stripped) < MIN_SECRET_KEY_LENGTH or stripped.lower() in _WEAK_SECRETS or len(set(stripped)) < 10


def normalise_database_url(url: str) -> str:
    """Accept the common ``postgres://`` spelling and pin the psycopg2 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def _instance_secret(instance_path: Path, name: str, make) -> str:
    """A development secret in ``instance/``, made on first use. Processes starting together each
    link a file of their own into place (whole; it never replaces one) and all read the winner's."""
    path = instance_path / name
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=instance_path, prefix=f".{name}-")  # mode 0600
        with os.fdopen(fd, "w") as handle:
            handle.write(make() + "\n")
        with contextlib.suppress(FileExistsError):  # another process was first
            os.link(temporary, path)
        os.unlink(temporary)
    return path.read_text().strip()


def load_config(env: Mapping[str, str] | None = None, instance_path: Path | None = None) -> dict:
    """The Flask configuration from environment variables; :class:`ConfigError` when production
    settings are missing or unsafe."""
    env = os.environ if env is None else env
    instance_path = Path(env.get("INSTANCE_PATH") or instance_path or DEFAULT_INSTANCE_PATH)
    app_env = env.get("APP_ENV", "development").strip().lower() or "development"
    if app_env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {app_env!r}")
    production = app_env == "production"
    debug = _flag(env.get("DEBUG"))

    secret_key = env.get("SECRET_KEY", "").strip()
    database_url = env.get("DATABASE_URL", "").strip()
    redis_url = env.get("REDIS_URL", "").strip()
    encryption_key = env.get("ENCRYPTION_KEY", "").strip()

    if production:
        if not secret_key:
            raise ConfigError("SECRET_KEY is not set (required when APP_ENV=production)")
        if is_weak_secret(secret_key):
            raise ConfigError(f"SECRET_KEY is weak: use at least {MIN_SECRET_KEY_LENGTH} random characters")
        if not database_url:
            raise ConfigError("DATABASE_URL is not set (required when APP_ENV=production)")
        if not redis_url:
            raise ConfigError("REDIS_URL is not set (required when APP_ENV=production)")
        if not encryption_key:
            raise ConfigError("ENCRYPTION_KEY is not set (required when APP_ENV=production)")
        if debug:
            raise ConfigError("DEBUG is on: debug mode must never run with APP_ENV=production")
    else:
        if not secret_key:
            secret_key = _instance_secret(instance_path, "secret_key", lambda: secrets.token_urlsafe(48))
        if not encryption_key:
            encryption_key = _instance_secret(instance_path, "encryption_key", lambda: Fernet.generate_key().decode())
    _check_encryption_keys(encryption_key)
    backup_keys = [k.strip() for k in env.get("BACKUP_ENCRYPTION_KEY", "").split(",") if k.strip()]
    _check_backup_keys(backup_keys)

    jobs_backend = _choice(env, "JOBS_BACKEND", ("rq", "thread"), "rq" if redis_url else "thread")
    if jobs_backend == "rq" and not redis_url:
        raise ConfigError("JOBS_BACKEND=rq needs REDIS_URL")

    embedded = not database_url
    if embedded:
        database_url = f"sqlite:///{instance_path / 'saintara.db'}"

    return {
        "APP_ENV": app_env,
        "DEBUG": debug,
        "TESTING": app_env == "test",
        "SECRET_KEY": secret_key,
        "ENCRYPTION_KEYS": [k.strip() for k in encryption_key.split(",") if k.strip()],
        "INSTANCE_PATH": str(instance_path),
        "EMBEDDED_DATABASE": embedded,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url or None,
        # Sessions (server side; the cookie only carries a random id).
        "SESSION_COOKIE_NAME": "saintara_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production or _flag(env.get("SESSION_COOKIE_SECURE")),
        "SESSION_IDLE_TIMEOUT": _int(env, "SESSION_IDLE_TIMEOUT", 30 * 60, minimum=60),
        "SESSION_ABSOLUTE_TIMEOUT": _int(env, "SESSION_ABSOLUTE_TIMEOUT", 12 * 3600, minimum=60),
        # Forms
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 16 * 1024 * 1024, minimum=1024),
        # Reverse proxy: how many proxies in front set X-Forwarded-* headers.
        "TRUSTED_PROXY_COUNT": _int(env, "TRUSTED_PROXY_COUNT", 1 if production else 0),
        "HSTS_ENABLED": production,
        # Locale
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": env.get("DISPLAY_TIMEZONE", "Asia/Jakarta"),
        "LANGUAGES": {"en": "English", "id": "Bahasa Indonesia"},
        # Password hashing cost (argon2id); tests lower it through TEST_CONFIG.
        "ARGON2_TIME_COST": _int(env, "ARGON2_TIME_COST", 3, minimum=1),
        "ARGON2_MEMORY_COST": _int(env, "ARGON2_MEMORY_COST", 64 * 1024, minimum=8),
        # Extensions
        "CACHE_TYPE": "RedisCache" if redis_url else "SimpleCache",
        "CACHE_REDIS_URL": redis_url or None,
        "CACHE_DEFAULT_TIMEOUT": 300,
        "CACHE_KEY_PREFIX": "saintara:cache:",
        # A Redis that does not answer must cost a request milliseconds, not the default minutes.
        "CACHE_OPTIONS": redis_clients.options(0.5) if redis_url else {},
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_STORAGE_OPTIONS": redis_clients.options(0.5) if redis_url else {},
        "RATELIMIT_KEY_PREFIX": "saintara:rl",
        "RATELIMIT_HEADERS_ENABLED": True,
        # While the limiter's Redis does not answer, try it again after this many seconds.
        "RATELIMIT_RETRY_SECONDS": _int(env, "RATELIMIT_RETRY_SECONDS", 5, minimum=1),
        # The portal's own log records from this level (the per-request line is always written).
        "LOG_LEVEL": env.get("LOG_LEVEL", "WARNING").upper(),
        # Background jobs: RQ on Redis when it is configured, else a thread in this process.
        "JOBS_BACKEND": jobs_backend,
        "JOBS_QUEUE": env.get("JOBS_QUEUE", "saintara").strip() or "saintara",
        "ANALYTICS_STREAM": env.get("ANALYTICS_STREAM", "").strip() or "saintara:analytics:events",  # ANALYTICS.md
        **_backup_settings(env, instance_path, backup_keys),
        **_observability_settings(env, app_env),
        # Links in e-mails (invitations, password resets) and the WebAuthn origin. Set it in
        # production: without it links use the host the request named.
        "PUBLIC_URL": _public_url(env.get("PUBLIC_URL", "")),
        # Mail: SMTP when SMTP_HOST is set; the embedded default prints mails to the console.
        **_mail_settings(env), **vapid.settings(env, production=production, error=ConfigError),  # Web Push: PWA.md
    }


def _public_url(value: str) -> str | None:
    value = value.strip().rstrip("/")
    if not value:
        return None
    if not value.startswith(("https://", "http://")) or "/" in value.split("://", 1)[1]:
        raise ConfigError(f"PUBLIC_URL must be a scheme and host like https://admin.example.com, got {value!r}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number between 0 and 1, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be a number between 0 and 1, got {raw!r}")
    return value


def _observability_settings(env: Mapping[str, str], app_env: str) -> dict:
    """Sentry, Prometheus /metrics access (docs/MONITORING.md)."""
    import ipaddress

    allowed = []
    for part in env.get("METRICS_ALLOWED_IPS", "").split(","):
        if part.strip():
            try:
                allowed.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"METRICS_ALLOWED_IPS must list addresses or networks, got {part.strip()!r}") from None
    dsn = env.get("SENTRY_DSN", "").strip()
    token = env.get("METRICS_TOKEN", "").strip()
    if token and app_env == "production" and is_weak_secret(token):
        raise ConfigError(f"METRICS_TOKEN is weak: use at least {MIN_SECRET_KEY_LENGTH} random characters")
    return {
        "SENTRY_DSN": dsn or None,
        # The browser SDK sends to this DSN (often a project of its own); empty: none is loaded.
        "SENTRY_BROWSER_DSN": env.get("SENTRY_BROWSER_DSN", "").strip() or None,
        "SENTRY_ENVIRONMENT": env.get("SENTRY_ENVIRONMENT", "").strip() or app_env,
        "SENTRY_RELEASE": env.get("SENTRY_RELEASE", "").strip() or None,
        "SENTRY_TRACES_SAMPLE_RATE": _float(env, "SENTRY_TRACES_SAMPLE_RATE", 0.0),
        "SENTRY_PROFILES_SAMPLE_RATE": _float(env, "SENTRY_PROFILES_SAMPLE_RATE", 0.0),
        "METRICS_TOKEN": token or None,
        "METRICS_ALLOWED_IPS": tuple(allowed),
    }


MAIL_BACKENDS = ("smtp", "console", "memory")


def _mail_settings(env: Mapping[str, str]) -> dict:
    host = env.get("SMTP_HOST", "").strip()
    backend = env.get("MAIL_BACKEND", "").strip().lower() or ("smtp" if host else "console")
    if backend not in MAIL_BACKENDS:
        raise ConfigError(f"MAIL_BACKEND must be one of {', '.join(MAIL_BACKENDS)}, got {backend!r}")
    if backend == "smtp" and not host:
        raise ConfigError("SMTP_HOST is not set (required when MAIL_BACKEND=smtp)")
    use_ssl = _flag(env.get("SMTP_SSL"))
    return {
        "MAIL_BACKEND": backend,
        "MAIL_FROM": env.get("MAIL_FROM", "").strip() or "Saintara Admin <no-reply@saintara.invalid>",
        "SMTP_HOST": host or None,
        "SMTP_PORT": _int(env, "SMTP_PORT", 465 if use_ssl else 587, minimum=1),
        "SMTP_USERNAME": env.get("SMTP_USERNAME", "").strip() or None,
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD", "") or None,
        "SMTP_SSL": use_ssl,
        "SMTP_STARTTLS": False if use_ssl else _flag(env.get("SMTP_STARTTLS"), default=True),
        "SMTP_TIMEOUT": _int(env, "SMTP_TIMEOUT", 10, minimum=1),
    }


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _backup_settings(env: Mapping[str, str], instance_path: Path, keys: list[str]) -> dict:
    """Where backups go and how they are written (docs/BACKUP_RECOVERY.md lists every variable)."""
    bucket = env.get("BACKUP_S3_BUCKET", "").strip()
    storage = _choice(env, "BACKUP_STORAGE", ("local", "s3"), "s3" if bucket else "local")
    if storage == "s3" and not bucket:
        raise ConfigError("BACKUP_S3_BUCKET is not set (required when BACKUP_STORAGE=s3)")
    return {
        "BACKUP_DIR": str(Path(env.get("BACKUP_DIR", "").strip() or instance_path / "backups")),
        "BACKUP_STORAGE": storage,
        "BACKUP_COMPRESSION": _choice(env, "BACKUP_COMPRESSION", ("zstd", "gzip"), "zstd"),
        "BACKUP_ZSTD_LEVEL": _int(env, "BACKUP_ZSTD_LEVEL", 3, minimum=1),
        "BACKUP_ZSTD_THREADS": _int(env, "BACKUP_ZSTD_THREADS", 0),  # 0: one per CPU
        "BACKUP_ENCRYPTION_KEYS": keys,
        "BACKUP_PG_BIN_DIR": env.get("BACKUP_PG_BIN_DIR", "").strip() or None,
        "BACKUP_S3_BUCKET": bucket or None,
        "BACKUP_S3_PREFIX": _prefix(env.get("BACKUP_S3_PREFIX", "saintara/backups")),
        "BACKUP_S3_ENDPOINT_URL": env.get("BACKUP_S3_ENDPOINT_URL", "").strip() or None,
        "BACKUP_S3_REGION": env.get("BACKUP_S3_REGION", "").strip() or None,
        "BACKUP_S3_PART_SIZE_MB": _int(env, "BACKUP_S3_PART_SIZE_MB", 64, minimum=5),
    }


def _prefix(value: str) -> str:
    value = value.strip().strip("/")
    return value + "/" if value else ""


BACKUP_KEY_HELP = (
    "make one with: python -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
)


def decode_backup_key(value: str) -> bytes:
    """The 32 raw bytes of a backup encryption key (URL-safe base64); raises ValueError."""
    try:
        raw = base64.urlsafe_b64decode(value.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ValueError("not base64") from None
    if len(raw) != 32:
        raise ValueError("not 32 bytes")
    return raw


def _check_backup_keys(keys: list[str]) -> None:
    for key in keys:
        try:
            decode_backup_key(key)
        except ValueError:
            raise ConfigError(
                "BACKUP_ENCRYPTION_KEY must be one or more comma-separated keys of 32 random bytes in "
                "URL-safe base64 (" + BACKUP_KEY_HELP + ")"
            ) from None


def _check_encryption_keys(value: str) -> None:
    for key in value.split(","):
        key = key.strip()
        if not key:
            continue
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError("ENCRYPTION_KEY must be one or more comma-separated Fernet keys (make one with: "
                              "python -c 'from cryptography.fernet import Fernet; "
                              "print(Fernet.generate_key().decode())')") from None


TEST_CONFIG: dict = {
    "APP_ENV": "test",
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "ENCRYPTION_KEYS": ["0uLhgZ0d7pGcQ7a8Tn8c2o3fZkY6bG0Lw1nX9yVqk0s="],
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 8,
    "SERVER_NAME": None,
    "MAIL_BACKEND": "memory",
}
