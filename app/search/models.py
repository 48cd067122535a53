"""Indexes that let the jump box answer from an index on large tables (PostgreSQL only).

E-mails are matched exactly or as a prefix: a ``varchar_pattern_ops`` b-tree serves
``LIKE 'text%'`` whatever the database's collation. Names are matched case-blind as a
prefix or in part: a trigram GIN index on ``lower(name)`` serves both (pg_trgm, created
by migration 0002). SQLite, the embedded default, searches its small tables without them.
"""

from __future__ import annotations

from sqlalchemy import Index, func

from app.platform.models import Customer
from app.users.models import User


def _pattern_index(name: str, column) -> Index:
    return Index(name, column, postgresql_ops={column.key: "varchar_pattern_ops"}).ddl_if(dialect="postgresql")


def _trigram_index(name: str, column) -> Index:
    return Index(name, func.lower(column), postgresql_using="gin",
                 postgresql_ops={"lower": "gin_trgm_ops"}).ddl_if(dialect="postgresql")


JUMP_INDEXES = (
    _pattern_index("ix_customers_email_pattern", Customer.__table__.c.email),
    _trigram_index("ix_customers_full_name_trgm", Customer.__table__.c.full_name),
    _pattern_index("ix_users_email_pattern", User.__table__.c.email),
    _trigram_index("ix_users_display_name_trgm", User.__table__.c.display_name),
)
