"""Privacy: the privacy officer role, data-subject requests and their timeline.

The users.role check constraint admits 'privacy_officer'. On SQLite a check constraint
can only change by rebuilding the table, and rebuilding ``users`` (dropping the old one)
with foreign keys on would run ON DELETE actions on every table that refers to it; so
the constraint's text is replaced in the schema instead, as SQLite documents for
loosening constraints (lang_altertable.html, "other kinds of table schema changes"):
every existing row satisfies the wider check.

Revision ID: 0011_privacy_requests
Revises: 0010_consent
Create Date: 2026-12-12
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011_privacy_requests"
down_revision = "0010_consent"
branch_labels = None
depends_on = None

OLD_ROLES = "role IN ('superadmin', 'admin', 'institution_admin', 'customer')"
NEW_ROLES = "role IN ('superadmin', 'admin', 'privacy_officer', 'institution_admin', 'customer')"


def _replace_role_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_users_role_valid"), "users", type_="check")
        op.create_check_constraint(op.f("ck_users_role_valid"), "users", new)
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    changed = bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'users' AND instr(sql, ?)",
        (old, new, old)).rowcount
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")
    if changed != 1:
        raise RuntimeError(f"users: the check constraint {old!r} was not found; the schema is not as expected")
    if bind.exec_driver_sql("PRAGMA integrity_check").scalar() != "ok":
        raise RuntimeError("the SQLite integrity check failed after changing the users.role constraint")


def upgrade():
    _replace_role_check(OLD_ROLES, NEW_ROLES)
    op.create_table('privacy_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_type', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('jurisdiction', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('details', sa.Text(), server_default='', nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('original_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('extended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('extension_reason', sa.Text(), nullable=True),
    sa.Column('verification_token_hash', sa.String(length=64), nullable=True),
    sa.Column('verification_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verification_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verification_method', sa.String(length=16), nullable=True),
    sa.Column('verification_note', sa.Text(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_by_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=24), nullable=True),
    sa.Column('refusal_reason', sa.String(length=24), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('reminded_on', sa.Date(), nullable=True),
    sa.Column('registered_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
              nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("(status = 'completed') = (outcome IS NOT NULL)",
                       name=op.f('ck_privacy_requests_outcome_matches_status')),
    sa.CheckConstraint("(status = 'refused') = (refusal_reason IS NOT NULL)",
                       name=op.f('ck_privacy_requests_refusal_matches_status')),
    sa.CheckConstraint("(status IN ('completed', 'refused')) = (decided_at IS NOT NULL)",
                       name=op.f('ck_privacy_requests_decision_matches_status')),
    sa.CheckConstraint("channel IN ('email', 'web_form', 'letter', 'phone', 'in_person', 'other')",
                       name=op.f('ck_privacy_requests_channel_valid')),
    sa.CheckConstraint("jurisdiction IN ('gdpr', 'uu_pdp')", name=op.f('ck_privacy_requests_jurisdiction_valid')),
    sa.CheckConstraint("kind IN ('access', 'rectification', 'erasure', 'restriction', 'objection')",
                       name=op.f('ck_privacy_requests_kind_valid')),
    sa.CheckConstraint("status IN ('received', 'verified', 'completed', 'refused')",
                       name=op.f('ck_privacy_requests_status_valid')),
    sa.CheckConstraint("subject_type IN ('customer', 'user')", name=op.f('ck_privacy_requests_subject_type_valid')),
    sa.CheckConstraint("verified_at IS NOT NULL OR status = 'received' OR refusal_reason = 'identity_not_verified'",
                       name=op.f('ck_privacy_requests_verified_before_decided')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_privacy_requests_decided_by_id_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['registered_by_id'], ['users.id'],
                            name=op.f('fk_privacy_requests_registered_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'], name=op.f('fk_privacy_requests_verified_by_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_requests')),
    sa.UniqueConstraint('verification_token_hash', name=op.f('uq_privacy_requests_verification_token_hash'))
    )
    with op.batch_alter_table('privacy_requests', schema=None) as batch_op:
        batch_op.create_index('ix_privacy_requests_due_at_id', ['due_at', 'id'], unique=False)
        batch_op.create_index('ix_privacy_requests_received_at_id', ['received_at', 'id'], unique=False)
        batch_op.create_index('ix_privacy_requests_status_due_at', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_privacy_requests_subject', ['subject_type', 'subject_id'], unique=False)

    op.create_table('privacy_request_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=254), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('registered', 'verification_sent', 'verified', 'extended', 'completed', 'refused', "
                       "'reminded')", name=op.f('ck_privacy_request_events_kind_valid')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_privacy_request_events_actor_id_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['request_id'], ['privacy_requests.id'],
                            name=op.f('fk_privacy_request_events_request_id_privacy_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_request_events'))
    )
    with op.batch_alter_table('privacy_request_events', schema=None) as batch_op:
        batch_op.create_index('ix_privacy_request_events_request_id_id', ['request_id', 'id'], unique=False)


def downgrade():
    if op.get_bind().exec_driver_sql("SELECT count(*) FROM users WHERE role = 'privacy_officer'").scalar():
        raise RuntimeError("privacy officer accounts exist: give them another role before downgrading")
    with op.batch_alter_table('privacy_request_events', schema=None) as batch_op:
        batch_op.drop_index('ix_privacy_request_events_request_id_id')
    op.drop_table('privacy_request_events')
    with op.batch_alter_table('privacy_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_privacy_requests_subject')
        batch_op.drop_index('ix_privacy_requests_status_due_at')
        batch_op.drop_index('ix_privacy_requests_received_at_id')
        batch_op.drop_index('ix_privacy_requests_due_at_id')
    op.drop_table('privacy_requests')
    _replace_role_check(NEW_ROLES, OLD_ROLES)
