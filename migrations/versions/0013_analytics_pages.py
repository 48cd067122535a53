"""Rollups for the analytics pages (and an index on analytics_daily by name and day): day totals, milestone durations, retention cohorts, the last
active week per account, and per-institution platform figures (payments, approval turnaround).

Revision ID: 0013_analytics_pages
Revises: 0012_analytics
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013_analytics_pages"
down_revision = "0012_analytics"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_analytics_daily_name_day", "analytics_daily", ["name", "day"], unique=False,
                    postgresql_include=["path", "role", "events", "visitors"])
    op.create_table(
        "analytics_day_totals",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("page_views", sa.BigInteger(), nullable=False),
        sa.Column("visitors", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_analytics_day_totals")),
    )
    op.create_table(
        "analytics_durations",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "name", "bucket", name=op.f("pk_analytics_durations")),
    )
    op.create_table(
        "analytics_cohort_weeks",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("joined_week", sa.Integer(), nullable=False),
        sa.Column("weeks_since", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "joined_week", "weeks_since", name=op.f("pk_analytics_cohort_weeks")),
    )
    op.create_table(
        "analytics_active_weeks",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_analytics_active_weeks_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_analytics_active_weeks")),
    )
    op.create_table(
        "platform_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("transactions", sa.Integer(), nullable=False),
        sa.Column("volume_idr", sa.BigInteger(), nullable=False),
        sa.Column("approvals_decided", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "institution_id", name=op.f("pk_platform_daily")),
    )
    op.create_table(
        "platform_turnaround_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("approvals", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "institution_id", "bucket", name=op.f("pk_platform_turnaround_daily")),
    )


def downgrade():
    op.drop_table("platform_turnaround_daily")
    op.drop_table("platform_daily")
    op.drop_table("analytics_active_weeks")
    op.drop_table("analytics_cohort_weeks")
    op.drop_table("analytics_durations")
    op.drop_table("analytics_day_totals")
    op.drop_index("ix_analytics_daily_name_day", table_name="analytics_daily")
