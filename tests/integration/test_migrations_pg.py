"""On PostgreSQL the migrations and the models agree, and downgrade/upgrade round-trips."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app import create_app
from app.config import TEST_CONFIG
from app.extensions import db
from tests.integration.conftest import create_database, drop_database

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_app(tmp_path, redis_url):
    url = create_database("saintara_test_migrations")
    application = create_app({**TEST_CONFIG, "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": url,
                              "EMBEDDED_DATABASE": False, "REDIS_URL": redis_url})
    yield application
    with application.app_context():
        db.engine.dispose()
    drop_database(url)


def differences() -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def tables() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_migrations_match_the_models_and_round_trip(empty_app):
    with empty_app.app_context():
        upgrade()
        assert differences() == []
        assert tables() == set(db.metadata.tables)
        downgrade(revision="base")
        assert tables() == set()
        upgrade()
        assert differences() == []
