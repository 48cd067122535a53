"""Personal data: per-subject keys, the erasure ledger, and sealing the audit log's existing entries.

Revision ID: 0009_personal_data
Revises: 0008_institution_name_order
Create Date: 2026-12-06

Personal values already in the audit log are sealed under their subject's key and the chain
is hashed again, ending in an AUDIT_REANCHOR entry that records the old head
(app/audit/reanchor.py). A chain that does not verify is not rewritten: the upgrade stops.
"""
import os

import sqlalchemy as sa
from alembic import op

revision = "0009_personal_data"
down_revision = "0008_institution_name_order"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "data_subjects",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hold_reason", sa.Text(), nullable=True),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_subjects")),
        sa.UniqueConstraint("kind", "ref_id", name="uq_data_subjects_kind_ref"),
    )
    op.create_table(
        "erasure_ledger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_ref", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_ledger")),
    )
    op.create_index("ix_erasure_ledger_subject", "erasure_ledger", ["subject_id"], unique=False)
    op.create_table(
        "audit_previous_hashes",
        sa.Column("entry_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("reanchor_entry_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_audit_previous_hashes")),
    )
    from app.audit.reanchor import reanchor

    reanchor(op.get_bind())


def downgrade():
    # Dropping data_subjects destroys every key: refused once any value may have been sealed,
    # unless the operator says the loss is intended (tests that go back to an old schema do).
    if (op.get_bind().execute(sa.text("SELECT count(*) FROM data_subjects")).scalar()
            and os.environ.get("SAINTARA_DOWNGRADE_DESTROYS_KEYS") != "yes"):
        raise RuntimeError("0009_personal_data cannot be downgraded: dropping data_subjects would destroy every "
                           "subject's key and make all sealed values unreadable. Restore a backup instead.")
    op.drop_table("audit_previous_hashes")
    op.drop_index("ix_erasure_ledger_subject", table_name="erasure_ledger")
    op.drop_table("erasure_ledger")
    op.drop_table("data_subjects")
