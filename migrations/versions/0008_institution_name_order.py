"""Institutions sort by name case-insensitively: an index on (lower(name), id).

Revision ID: 0008_institution_name_order
Revises: 0007_jump_search
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008_institution_name_order"
down_revision = "0007_jump_search"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_institutions_name_order", "institutions", [sa.text("lower(name)"), "id"], unique=False)


def downgrade():
    op.drop_index("ix_institutions_name_order", table_name="institutions")
