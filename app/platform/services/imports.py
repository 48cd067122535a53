"""Bulk import of customers: upload, preview with line-by-line errors, all-or-nothing import.

The uploaded file is staged in the database (every worker and host sees it) with its
SHA-256. The import validates the staged file again (the database may have changed
since the preview) and inserts every row or none: PostgreSQL gets one COPY, other
databases one multi-row INSERT. One CUSTOMER_BULK_IMPORT audit entry records the
counts and the file's hash.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from app import events
from app.audit import services as audit
from app.audit.models import AuditAction
from app.database import utcnow
from app.extensions import db
from app.platform.models import Customer, CustomerImport, ImportStatus, Institution
from app.platform.services import NotVisible, PlatformError
from app.platform.services.customer_file import FileUnreadable, file_format, read_lines
from app.platform.services.customer_validation import Institutions, Validation
from app.platform.services.customer_validation import validate as validate_lines
from app.security.access import institution_scope
from app.security.actor import Actor

MAX_FILE_BYTES = 15 * 1024 * 1024
STAGED_FOR = timedelta(hours=24)
COPY_SQL = "COPY customers (institution_id, full_name, email, phone) FROM STDIN WITH (FORMAT csv)"


class ImportRefused(PlatformError):
    pass


class ImportHasErrors(PlatformError):
    """The file (still) has errors; nothing was imported. ``validation`` lists them."""

    def __init__(self, validation: Validation):
        super().__init__(_l("The file has errors, so nothing was imported."))
        self.validation = validation


def stage(actor: Actor, filename: str, content: bytes) -> tuple[CustomerImport, Validation]:
    """Keep an uploaded file for its preview and validate it. Raises ImportRefused for a
    file that is empty, too large or of another format."""
    filename = (filename or "customers.csv").replace("\\", "/").rsplit("/", 1)[-1][:255]
    if not content:
        raise ImportRefused(_l("The file is empty."))
    if len(content) > MAX_FILE_BYTES:
        raise ImportRefused(_l("The file is larger than %(mb)s MB. Split it and import the parts.",
                               mb=MAX_FILE_BYTES // (1024 * 1024)))
    try:
        fmt = file_format(filename, content)
    except FileUnreadable as exc:
        raise ImportRefused(exc.message) from None
    _forget_old_uploads()
    staged = CustomerImport(uploaded_by_id=actor.user_id, institution_id=institution_scope(actor), filename=filename,
                            file_format=fmt, file_sha256=hashlib.sha256(content).hexdigest(),
                            size_bytes=len(content), content=content, status=ImportStatus.PREVIEWED.value)
    validation = check(staged)
    staged.row_count, staged.error_count = validation.row_count, validation.error_count
    if validation.ok:
        staged.validated_rows = encode_rows(validation.rows)
        staged.institution_counts = {str(i): n for i, n in validation.by_institution.items()}
    db.session.add(staged)
    db.session.flush()
    return staged, validation


def _forget_old_uploads() -> None:
    """Files staged more than a day ago and never imported are dropped (their record stays)."""
    db.session.execute(
        update(CustomerImport)
        .where(CustomerImport.status == ImportStatus.PREVIEWED.value,
               CustomerImport.created_at < utcnow() - STAGED_FOR)
        .values(status=ImportStatus.DISCARDED.value, content=None, validated_rows=None,
                version=CustomerImport.version + 1)
        .execution_options(synchronize_session=False))


def get_for(actor: Actor, import_id: int) -> CustomerImport:
    """A staged import of this actor (nobody else's: NotVisible)."""
    staged = db.session.get(CustomerImport, import_id)
    if staged is None or staged.uploaded_by_id != actor.user_id or actor.user_id is None:
        raise NotVisible()
    return staged


def check(staged: CustomerImport) -> Validation:
    """Validate the staged file against the database as it is now."""
    if staged.content is None:
        result = Validation()
        result.file_error = _l("This upload is no longer kept. Upload the file again.")
        return result
    lines = read_lines(staged.content, staged.file_format)
    return validate_lines(lines, Institutions.load(staged.institution_id))


def run(actor: Actor, staged: CustomerImport, *, expected_sha256: str) -> int:
    """Import every row of a staged file, or none (audited CUSTOMER_BULK_IMPORT); returns the count.

    The rows checked by the preview are inserted in one statement; what may have changed
    since is checked again: the institutions must still be active, and the unique index
    refuses a customer someone added meanwhile (the file is then validated again, so the
    lines are shown). Raises ImportRefused (already imported, another file, another scope)
    or ImportHasErrors.
    """
    if staged.status != ImportStatus.PREVIEWED.value:
        raise ImportRefused(_l("This file was already imported or discarded."))
    if staged.file_sha256 != expected_sha256:
        raise ImportRefused(_l("This is not the file you previewed. Upload it again."))
    if institution_scope(actor) != staged.institution_id:
        raise ImportRefused(_l("Your access changed since the upload. Upload the file again."))
    # One importer per staged file at a time: the second waits here, then sees "imported".
    db.session.execute(select(CustomerImport.id).where(CustomerImport.id == staged.id).with_for_update())
    db.session.refresh(staged)
    if staged.status != ImportStatus.PREVIEWED.value:
        raise ImportRefused(_l("This file was already imported or discarded."))
    counts = {int(k): n for k, n in (staged.institution_counts or {}).items()}
    active = set(db.session.scalars(select(Institution.id).where(Institution.id.in_(list(counts)),
                                                                 Institution.is_active.is_(True))))
    if staged.validated_rows is None or active != set(counts):
        raise ImportHasErrors(check(staged))
    try:
        insert_rows(staged.validated_rows)
    except IntegrityError:  # someone added one of these customers since the preview
        raise ImportHasErrors(check(staged)) from None
    count = sum(counts.values())
    codes = dict(db.session.execute(
        select(Institution.id, Institution.code).where(Institution.id.in_(list(counts)))).all())
    staged.status, staged.imported_count, staged.imported_at = ImportStatus.IMPORTED.value, count, utcnow()
    staged.content = staged.validated_rows = None  # the rows are in the table; keep the name, hash and counts
    db.session.flush()
    audit.log(actor, AuditAction.CUSTOMER_BULK_IMPORT, resource=staged,
              institution_id=next(iter(counts)) if len(counts) == 1 else None,
              description=f"Imported {count} customers from {staged.filename} (SHA-256 {staged.file_sha256})",
              changes={"customers": {"before": 0, "after": count},
                       "file": {"name": staged.filename, "sha256": staged.file_sha256, "bytes": staged.size_bytes,
                                "lines": staged.row_count},
                       "by_institution": {codes[i]: n for i, n in sorted(counts.items())}})
    events.announce(events.customers_imported, count=count, institution_ids=sorted(counts), actor_id=actor.user_id)
    return count


def discard(actor: Actor, staged: CustomerImport) -> None:
    """Drop a staged file without importing it (nothing to audit: no customer changed)."""
    if staged.status == ImportStatus.PREVIEWED.value:
        staged.status, staged.content, staged.validated_rows = ImportStatus.DISCARDED.value, None, None
        db.session.flush()


def encode_rows(rows: list[tuple[int, str, str, str | None]]) -> bytes:
    """Validated rows as CSV in the column order of ``COPY_SQL`` (an empty phone is NULL)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def insert_customers(rows: list[tuple[int, str, str, str | None]]) -> None:
    """Insert validated rows in one statement (raises IntegrityError for a duplicate; nothing is
    inserted then)."""
    insert_rows(encode_rows(rows))


def insert_rows(encoded: bytes) -> None:
    """Insert rows made by :func:`encode_rows`: one COPY on PostgreSQL, one multi-row INSERT
    elsewhere. Columns not given take their defaults (active, now, version 1)."""
    with db.session.begin_nested():
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            _copy(connection, encoded)
        else:
            rows = csv.reader(io.StringIO(encoded.decode()))
            db.session.execute(insert(Customer), [
                {"institution_id": int(i), "full_name": n, "email": e, "phone": p or None} for i, n, e, p in rows])


def _copy(connection, encoded: bytes) -> None:
    import psycopg2

    cursor = connection.connection.cursor()
    try:
        cursor.copy_expert(COPY_SQL, io.BytesIO(encoded))
    except psycopg2.IntegrityError as exc:
        raise IntegrityError(COPY_SQL, None, exc) from exc
    finally:
        cursor.close()
