"""CSV downloads of the analytics tables: the list pattern's hourly export limit and cell guard
(app.listing: times in the display zone, never a formula), for tables small enough to build at once."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from flask import Response

from app.listing import count_export, csv_cell


def csv_download(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> Response:
    """``rows`` under ``header`` as a CSV attachment named ``filename-<stamp>.csv`` (counts as an export)."""
    count_export()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response
