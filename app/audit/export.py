"""Exports of the audit log (the current filter) as CSV or JSON Lines, streamed, and the
audit entries that record reads of the log (exports, API pulls).

Rows come from one server-side cursor (``yield_per``) and leave as text in chunks, so
memory stays flat however many entries match. Every record is exactly one line: line
breaks inside stored values are escaped. CSV cells that a spreadsheet would read as a
formula are prefixed with an apostrophe. JSON Lines keeps every value exactly.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import Connection, Engine, Select, literal_column, select

from app.audit import services as audit
from app.audit.filters import AuditFilter
from app.audit.models import CHANGES_TEXT_SQL, TIMESTAMP_TEXT_SQL, AuditAction, AuditLog, canonical_json
from app.audit.queries import criteria
from app.database import utcnow
from app.escaping import csv_cell, json_line
from app.extensions import db
from app.personal_data import vault
from app.security.actor import Actor

FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
COLUMNS = (
    "id", "created_at", "actor_id", "actor_email", "impersonator_id", "impersonator_email", "action", "result",
    "resource_type", "resource_id", "resource_repr", "institution_id", "description", "changes", "ip",
    "user_agent", "request_id", "prev_hash", "hash",
)
ROWS_PER_CHUNK = 500


def export_query(f: AuditFilter, scope: int | None) -> Select:
    """Matching entries, newest first, as rows of COLUMNS: the timestamp already as text and
    ``changes`` as its stored JSON text (no per-row conversion in Python)."""
    dialect = db.session.get_bind().dialect.name
    raw = {"created_at": TIMESTAMP_TEXT_SQL[dialect], "changes": CHANGES_TEXT_SQL[dialect]}
    columns = [literal_column(raw[name]).label(name) if name in raw else getattr(AuditLog, name)
               for name in COLUMNS]
    crit = criteria(f, scope)
    return (select(*columns).where(*crit.where())
            .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()))


def stream_rows(query: Select, bind: Engine | Connection, *, yield_per: int = 1000) -> Iterator:
    """Execute ``query`` on a connection of its own and yield its rows from a server-side cursor.

    The rows are read while the response is being sent, after the request's own
    transaction has ended; no application context is needed meanwhile.
    """
    query = query.execution_options(yield_per=yield_per)
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            yield from connection.execute(query)
    else:  # a session bound to one connection (tests): read through it
        yield from bind.execute(query)


# Columns whose values the portal makes (numbers, times, hashes, fixed words): no formula risk.
_SAFE = frozenset({"id", "created_at", "actor_id", "impersonator_id", "action", "result", "institution_id",
                   "prev_hash", "hash"})
_CHECKED = [name not in _SAFE for name in COLUMNS]
_CHANGES = COLUMNS.index("changes")
_SENTINEL = "\x00changes\x00"
_SENTINEL_JSON = json.dumps(_SENTINEL)


def csv_chunks(rows) -> Iterator[str]:
    """A header line, then one line per row, in chunks of text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for count, row in enumerate(rows, 1):
        # "changes" is JSON text: csv_cell escapes the Unicode line separators it may hold (as JSON
        # escapes, so it stays valid JSON), and it starts with "{" (never a formula).
        writer.writerow([csv_cell(value) if checked else value for value, checked in zip(row, _CHECKED, strict=True)])
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _jsonl_line(row) -> str:
    record = dict(zip(COLUMNS, row, strict=True))
    changes = record["changes"]
    if changes is None:
        return json_line(json.dumps(record, ensure_ascii=False))
    record["changes"] = _SENTINEL  # the stored JSON text goes in as it is, not as a string
    return json_line(json.dumps(record, ensure_ascii=False).replace(_SENTINEL_JSON, changes, 1))


def jsonl_chunks(rows) -> Iterator[str]:
    """One JSON object per line, in chunks of text."""
    lines = []
    for row in rows:
        lines.append(_jsonl_line(row))
        if len(lines) == ROWS_PER_CHUNK:
            yield "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield "\n".join(lines) + "\n"


def chunks(fmt: str, rows) -> Iterator[str]:
    """The export of ``rows`` in format ``fmt`` ("csv" or "jsonl")."""
    return csv_chunks(rows) if fmt == "csv" else jsonl_chunks(rows)


_WHOLE = [COLUMNS.index(name) for name in ("actor_email", "impersonator_email")]
_TEXT = [COLUMNS.index(name) for name in ("resource_repr", "description")]


def revealed(rows, opener: vault.Opener, block: int = 1_000) -> Iterator[tuple]:
    """``rows`` with their sealed personal values revealed (app.personal_data.vault), the keys of
    each ``block`` of rows read in one query."""
    for part in _batched(rows, block):
        opener.expect(value for row in part for value in (*(row[i] for i in _WHOLE + _TEXT), row[_CHANGES]))
        yield from (_revealed_row(row, opener) for row in part)


def _batched(rows, size: int) -> Iterator[tuple]:
    iterator = iter(rows)
    while part := tuple(itertools.islice(iterator, size)):
        yield part


def _revealed_row(row: tuple, opener: vault.Opener) -> tuple:
    prefix = vault.PREFIX
    values = None
    for index in _WHOLE:
        if row[index] is not None and row[index].startswith(prefix):
            values = values or list(row)
            values[index] = opener.reveal(row[index])
    for index in _TEXT:
        if row[index] is not None and prefix in row[index]:
            values = values or list(row)
            values[index] = opener.reveal_text(row[index])
    changes = row[_CHANGES]
    if changes is not None and prefix in changes:
        values = values or list(row)
        values[_CHANGES] = canonical_json(opener.reveal_json(json.loads(changes)))
    return row if values is None else tuple(values)


def stream(fmt: str, f: AuditFilter, scope: int | None) -> Iterator[str]:
    """The export of the filter's entries, to be iterated while the response is sent; personal
    values are revealed for the reader (keys read through a connection of the export's own)."""
    bind = db.session.get_bind()
    opener = vault.Opener(vault.fetch_through(bind))
    return chunks(fmt, revealed(stream_rows(export_query(f, scope), bind), opener))


def record_export(actor: Actor, fmt: str, f: AuditFilter, scope: int | None) -> None:
    """Audit an export (AUDIT_EXPORT) in the current transaction, before any row is sent."""
    audit.log(actor, AuditAction.AUDIT_EXPORT, resource_type="audit_log", institution_id=scope,
              description=f"Exported the audit log as {fmt.upper()} ({f.summary()})")


# A collector polls every minute or so: one entry per token and hour says who reads the log
# through the API, and when, without filling the log with its own reads.
API_READ_WINDOW = timedelta(hours=1)


def record_api_read(actor: Actor, token, f: AuditFilter, scope: int | None) -> bool:
    """Audit a pull of the log through ``token`` (AUDIT_API_READ), unless an entry already
    records one by that token in the last hour; True when an entry was queued."""
    since = utcnow() - API_READ_WINDOW
    recorded = db.session.scalar(
        select(AuditLog.id).where(AuditLog.resource_type == "apitoken", AuditLog.resource_id == str(token.id),
                                  AuditLog.created_at >= since, AuditLog.action == AuditAction.AUDIT_API_READ.value)
        .limit(1))
    if recorded is not None:
        return False
    audit.log(actor, AuditAction.AUDIT_API_READ, resource=token, institution_id=scope,
              description=f"Read the audit log through the API ({f.summary()}); "
                          "further reads by this token within the hour are not recorded")
    return True
