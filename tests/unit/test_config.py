"""Configuration from the environment; production refuses unsafe settings in one line."""

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from app.config import ConfigError, is_weak_secret, load_config, normalise_database_url

STRONG = "k3Jq9vX2mP8rT5wZ1bN7cL4hF6dS0aGe"
PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": STRONG,
    "DATABASE_URL": "postgresql://app@db/saintara",
    "REDIS_URL": "redis://cache:6379/0",
    "ENCRYPTION_KEY": Fernet.generate_key().decode(),
}


def test_embedded_default_needs_nothing(tmp_path):
    config = load_config({}, instance_path=tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'saintara.db'}"
    assert config["EMBEDDED_DATABASE"] and config["REDIS_URL"] is None
    assert config["CACHE_TYPE"] == "SimpleCache" and config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert not config["SESSION_COOKIE_SECURE"] and not config["HSTS_ENABLED"]
    # Development secrets are made once and kept, so sessions survive a restart.
    again = load_config({}, instance_path=tmp_path)
    assert config["SECRET_KEY"] == again["SECRET_KEY"] and len(config["SECRET_KEY"]) >= 32
    assert config["ENCRYPTION_KEYS"] == again["ENCRYPTION_KEYS"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_production_with_everything_set(tmp_path):
    config = load_config(PRODUCTION, instance_path=tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://app@db/saintara"
    assert config["CACHE_TYPE"] == "RedisCache" and config["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"
    assert config["SESSION_COOKIE_SECURE"] and config["HSTS_ENABLED"]
    assert config["TRUSTED_PROXY_COUNT"] == 1
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is weak"),
        ({"SECRET_KEY": "a" * 40}, "SECRET_KEY is weak"),
        ({"DATABASE_URL": ""}, "DATABASE_URL is not set"),
        ({"REDIS_URL": ""}, "REDIS_URL is not set"),
        ({"ENCRYPTION_KEY": ""}, "ENCRYPTION_KEY is not set"),
        ({"ENCRYPTION_KEY": "not-a-key"}, "ENCRYPTION_KEY must be"),
        ({"DEBUG": "1"}, "DEBUG is on"),
        ({"APP_ENV": "staging"}, "APP_ENV must be one of"),
        ({"SESSION_IDLE_TIMEOUT": "soon"}, "SESSION_IDLE_TIMEOUT must be a whole number"),
        ({"SESSION_IDLE_TIMEOUT": "5"}, "SESSION_IDLE_TIMEOUT must be at least 60"),
    ],
)
def test_production_refuses_unsafe_settings(tmp_path, change, message):
    with pytest.raises(ConfigError) as excinfo:
        load_config({**PRODUCTION, **change}, instance_path=tmp_path)
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_start_up_stops_with_one_line(tmp_path):
    env = {**PRODUCTION, "SECRET_KEY": "", "PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == "Configuration error: SECRET_KEY is not set (required when APP_ENV=production)"


def test_helpers():
    assert normalise_database_url("postgres://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"
    assert is_weak_secret("changeme") and is_weak_secret("x" * 64) and not is_weak_secret(STRONG)


def test_processes_that_find_the_secret_missing_together_all_use_the_first_ones(tmp_path, monkeypatch):
    from pathlib import Path

    from app import config

    first = config._instance_secret(tmp_path, "secret_key", lambda: "first")
    # A second process checked before the first had written it, then tries to create it too.
    monkeypatch.setattr(Path, "exists", lambda self: False)
    assert config._instance_secret(tmp_path, "secret_key", lambda: "second") == first == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]  # no temporary file left
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
