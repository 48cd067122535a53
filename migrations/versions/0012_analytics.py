"""First-party analytics: raw events, their daily rollup, daily salts and ingested stream entries.

On PostgreSQL the raw events' time columns get BRIN indexes (events arrive in time order)
and ``properties`` is jsonb; SQLite gets ordinary indexes and JSON text.

Revision ID: 0012_analytics
Revises: 0011_privacy_requests
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = "0012_analytics"
down_revision = "0011_privacy_requests"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "analytics_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("visitor", sa.LargeBinary(length=16), nullable=False),
        sa.Column("properties", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_events")),
    )
    op.create_index("ix_analytics_events_occurred_at", "analytics_events", ["occurred_at"], unique=False,
                    postgresql_using="brin")
    op.create_index("ix_analytics_events_day", "analytics_events", ["day"], unique=False, postgresql_using="brin")
    op.create_table(
        "analytics_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("visitors", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "name", "path", "role", name=op.f("pk_analytics_daily")),
    )
    op.create_table(
        "analytics_salts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_analytics_salts")),
    )
    op.create_table(
        "analytics_ingested_entries",
        sa.Column("entry_id", sa.String(length=41), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_analytics_ingested_entries")),
    )
    op.create_index(op.f("ix_analytics_ingested_entries_ingested_at"), "analytics_ingested_entries", ["ingested_at"],
                    unique=False)


def downgrade():
    op.drop_index(op.f("ix_analytics_ingested_entries_ingested_at"), table_name="analytics_ingested_entries")
    op.drop_table("analytics_ingested_entries")
    op.drop_table("analytics_salts")
    op.drop_table("analytics_daily")
    op.drop_index("ix_analytics_events_day", table_name="analytics_events")
    op.drop_index("ix_analytics_events_occurred_at", table_name="analytics_events")
    op.drop_table("analytics_events")
