"""Jump box: pattern and trigram indexes for e-mail prefixes and names (PostgreSQL only).

Revision ID: 0007_jump_search
Revises: 0006_platform_services
Create Date: 2026-12-06
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007_jump_search'
down_revision = '0006_platform_services'
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_customers_email_pattern", "customers", "(email varchar_pattern_ops)"),
    ("ix_customers_full_name_trgm", "customers", "USING gin (lower(full_name) gin_trgm_ops)"),
    ("ix_users_email_pattern", "users", "(email varchar_pattern_ops)"),
    ("ix_users_display_name_trgm", "users", "USING gin (lower(display_name) gin_trgm_ops)"),
)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    if not _postgresql():
        return  # SQLite (the embedded default) searches its small tables without them
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # made by 0002 already; kept for clarity
    for name, table, definition in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} {definition}")


def downgrade():
    if not _postgresql():
        return
    for name, _table, _definition in reversed(INDEXES):
        op.execute(f"DROP INDEX IF EXISTS {name}")
