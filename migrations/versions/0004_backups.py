"""Backup catalogue: one row per stored backup (rebuilt from the storage's manifests).

Revision ID: 0004_backups
Revises: 0005_console
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_backups'
down_revision = '0005_console'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('backups',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('engine', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=254), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('compression', sa.String(length=8), nullable=False),
    sa.Column('encrypted', sa.Boolean(), nullable=False),
    sa.Column('alembic_revision', sa.String(length=64), nullable=True),
    sa.Column('storage', sa.String(length=8), nullable=False),
    sa.Column('manifest', sa.JSON(), nullable=False),
    sa.Column('verify_status', sa.String(length=8), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verify_detail', sa.Text(), nullable=True),
    sa.Column('drill_status', sa.String(length=8), nullable=True),
    sa.Column('drilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('drill_detail', sa.Text(), nullable=True),
    sa.Column('drill_seconds', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backups'))
    )
    with op.batch_alter_table('backups', schema=None) as batch_op:
        batch_op.create_index('ix_backups_created_at_id', ['created_at', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('backups', schema=None) as batch_op:
        batch_op.drop_index('ix_backups_created_at_id')

    op.drop_table('backups')
