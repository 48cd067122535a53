"""The audit log's trigram index without sealed values: the search document (description, actor
e-mail, resource) has every sealed value (``s1~<subject>~<ciphertext>``) taken out before it is
indexed. Ciphertext filled the index with random trigrams (13 times its size without them) and
let short words match inside ciphertext.

The new index is built beside the old one without blocking writes (CREATE INDEX CONCURRENTLY),
then takes its name; on a large log this takes minutes.

Revision ID: 0016_audit_search_unsealed
Revises: 0015_turnaround_monthly
Create Date: 2026-12-07
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0016_audit_search_unsealed"
down_revision = "0015_turnaround_monthly"
branch_labels = None
depends_on = None

DOCUMENT = ("((((description || ' '::text) || (actor_email)::text) || ' '::text) "
            "|| (COALESCE(resource_repr, ''::character varying))::text)")
UNSEALED = f"regexp_replace({DOCUMENT}, 's1~[0-9]+~[A-Za-z0-9_-]*'::text, ' '::text, 'g'::text)"


def _replace_index(expression: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no trigram index: its search reads the columns
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_audit_logs_search_next")
        op.execute(f"CREATE INDEX CONCURRENTLY ix_audit_logs_search_next ON audit_logs "
                   f"USING gin (({expression}) gin_trgm_ops)")
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_audit_logs_search")
        op.execute("ALTER INDEX ix_audit_logs_search_next RENAME TO ix_audit_logs_search")


def upgrade():
    _replace_index(UNSEALED)


def downgrade():
    _replace_index(DOCUMENT)
