"""The records of processing (GDPR Art. 30, UU PDP Art. 31): a printable page and its CSV."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, render_template

from app.database import utcnow
from app.privacy import bp, records
from app.security.access import Permission, requires


@bp.get("/records")
@requires(Permission.MANAGE_PRIVACY)
def records_of_processing():
    """Generated from the personal data catalogue and the current retention settings."""
    return render_template("privacy/records.html", activities=records.activities(), purposes=records.purposes(),
                           controller=records.controller(), now=utcnow())


@bp.get("/records.csv")
@requires(Permission.MANAGE_PRIVACY)
def records_csv():
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return Response(records.as_csv(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="records-of-processing-{stamp}.csv"'})
