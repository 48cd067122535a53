"""Audit log: list indexes, trigram search, append-only trigger, verification runs.

Revision ID: 0002_audit_log
Revises: 0001_initial
Create Date: 2026-11-26

Lists are newest first by (created_at, id), so the indexes of 0001 that ended in ``id``
are replaced by ones ending in ``(created_at, id)``. On PostgreSQL this also creates the
pg_trgm extension and a trigram index for the free-text search, and a trigger that
refuses UPDATE, DELETE and TRUNCATE on audit_logs except for the retention purge
(which sets ``saintara.audit_purge`` for its own transactions), and ``audit_append``,
which takes the chain lock, reads the head and inserts new entries in one round trip.
"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0002_audit_log'
down_revision = '0001_initial'
branch_labels = None
depends_on = None

SEARCH_EXPRESSION = (
    "((((description || ' '::text) || actor_email::text) || ' '::text) "
    "|| COALESCE(resource_repr, ''::character varying)::text)"
)

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('saintara.audit_purge', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Old entries are removed only by the retention purge (flask audit purge).';
END;
$$
"""


# Writers append in one round trip: take the chain lock, read the head and insert the
# entries, each hashed as SHA-256(prev_hash || '|' || payload), where the application sends
# the payload (the encoded fields, app/audit/chain.py encode_fields). Each statement of a
# (volatile) PL/pgSQL function takes a new snapshot, so the head read after the lock is the
# newest committed entry: writers take turns and the chain never forks.
APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_append(lock_key bigint, entries jsonb)
RETURNS TABLE (entry_id bigint, entry_prev_hash varchar, entry_hash varchar) LANGUAGE plpgsql AS $$
DECLARE
    prev varchar;
    e record;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT a.hash INTO prev FROM audit_logs a ORDER BY a.id DESC LIMIT 1;
    prev := coalesce(prev, repeat('0', 64));
    FOR e IN SELECT * FROM jsonb_to_recordset(entries) AS x(
            created_at timestamptz, actor_id integer, actor_email varchar, impersonator_id integer,
            impersonator_email varchar, action varchar, resource_type varchar, resource_id varchar,
            resource_repr varchar, institution_id integer, description text, changes text, ip varchar,
            user_agent varchar, request_id varchar, result varchar, payload text) LOOP
        entry_prev_hash := prev;
        entry_hash := encode(sha256(convert_to(prev || '|' || e.payload, 'UTF8')), 'hex');
        INSERT INTO audit_logs (created_at, actor_id, actor_email, impersonator_id, impersonator_email, action,
                                resource_type, resource_id, resource_repr, institution_id, description, changes,
                                ip, user_agent, request_id, result, prev_hash, hash)
        VALUES (e.created_at, e.actor_id, e.actor_email, e.impersonator_id, e.impersonator_email, e.action,
                e.resource_type, e.resource_id, e.resource_repr, e.institution_id, e.description,
                e.changes::json, e.ip, e.user_agent, e.request_id, e.result, prev, entry_hash)
        RETURNING audit_logs.id INTO entry_id;
        RETURN NEXT;
        prev := entry_hash;
    END LOOP;
END;
$$
"""


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    op.create_table('audit_verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('checked', sa.BigInteger(), nullable=False),
    sa.Column('head_id', sa.BigInteger(), nullable=True),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('break_entry_id', sa.BigInteger(), nullable=True),
    sa.Column('break_kind', sa.String(length=16), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_verifications'))
    )
    with op.batch_alter_table('audit_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_logs_action_id'))
        batch_op.drop_index(batch_op.f('ix_audit_logs_actor_id_id'))
        batch_op.drop_index(batch_op.f('ix_audit_logs_created_at'))
        batch_op.drop_index(batch_op.f('ix_audit_logs_institution_id_id'))
        batch_op.drop_index(batch_op.f('ix_audit_logs_resource'))
        batch_op.create_index('ix_audit_logs_resource', ['resource_type', 'resource_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_logs_action', ['action', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_logs_actor_email', ['actor_email', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_logs_actor_id', ['actor_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_logs_created_at_id', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_logs_failures', ['created_at', 'id'], unique=False, postgresql_where=sa.text("result = 'failure'"), sqlite_where=sa.text("result = 'failure'"))
        batch_op.create_index('ix_audit_logs_impersonated', ['created_at', 'id'], unique=False, postgresql_where=sa.text('impersonator_id IS NOT NULL'), sqlite_where=sa.text('impersonator_id IS NOT NULL'))
        batch_op.create_index('ix_audit_logs_impersonator', ['impersonator_id', 'created_at', 'id'], unique=False, postgresql_where=sa.text('impersonator_id IS NOT NULL'), sqlite_where=sa.text('impersonator_id IS NOT NULL'))
        batch_op.create_index('ix_audit_logs_institution', ['institution_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_logs_ip', ['ip', 'created_at', 'id'], unique=False)

    if _postgresql():
        # pg_trgm is a trusted extension: a database owner may create it without superuser.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"CREATE INDEX ix_audit_logs_search ON audit_logs USING gin (({SEARCH_EXPRESSION}) gin_trgm_ops)")
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_FUNCTION)
        op.execute("CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_logs "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_append_only()")


def downgrade():
    if _postgresql():
        op.execute("DROP TRIGGER IF EXISTS audit_logs_append_only ON audit_logs")
        op.execute("DROP FUNCTION IF EXISTS audit_logs_append_only()")
        op.execute("DROP FUNCTION IF EXISTS audit_append(bigint, jsonb)")
        op.execute("DROP INDEX IF EXISTS ix_audit_logs_search")
        # pg_trgm stays: other objects may use it, and it holds no data.
    with op.batch_alter_table('audit_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_logs_ip')
        batch_op.drop_index('ix_audit_logs_institution')
        batch_op.drop_index('ix_audit_logs_impersonator', postgresql_where=sa.text('impersonator_id IS NOT NULL'), sqlite_where=sa.text('impersonator_id IS NOT NULL'))
        batch_op.drop_index('ix_audit_logs_impersonated', postgresql_where=sa.text('impersonator_id IS NOT NULL'), sqlite_where=sa.text('impersonator_id IS NOT NULL'))
        batch_op.drop_index('ix_audit_logs_failures', postgresql_where=sa.text("result = 'failure'"), sqlite_where=sa.text("result = 'failure'"))
        batch_op.drop_index('ix_audit_logs_created_at_id')
        batch_op.drop_index('ix_audit_logs_actor_id')
        batch_op.drop_index('ix_audit_logs_actor_email')
        batch_op.drop_index('ix_audit_logs_action')
        batch_op.drop_index('ix_audit_logs_resource')
        batch_op.create_index(batch_op.f('ix_audit_logs_resource'), ['resource_type', 'resource_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_logs_institution_id_id'), ['institution_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_logs_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_logs_actor_id_id'), ['actor_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_logs_action_id'), ['action', 'id'], unique=False)

    op.drop_table('audit_verifications')
