"""platform_turnaround_monthly: the daily approval turnaround histograms summed per calendar month,
filled from platform_turnaround_daily (the platform rollup keeps it from then on).

Revision ID: 0015_turnaround_monthly
Revises: 0014_push_subscriptions
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0015_turnaround_monthly"
down_revision = "0014_push_subscriptions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "platform_turnaround_monthly",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("institution_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("approvals", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "institution_id", "bucket", name=op.f("pk_platform_turnaround_monthly")),
    )
    if op.get_bind().dialect.name == "postgresql":
        month = "date_trunc('month', day)::date"
    else:
        month = "strftime('%Y-%m-01', day)"
    op.execute(f"INSERT INTO platform_turnaround_monthly (month, institution_id, bucket, approvals) "
               f"SELECT {month}, institution_id, bucket, sum(approvals) FROM platform_turnaround_daily "
               f"GROUP BY {month}, institution_id, bucket")


def downgrade():
    op.drop_table("platform_turnaround_monthly")
