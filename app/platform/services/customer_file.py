"""Reading a customer file (CSV or XLSX) into numbered lines of cells."""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Iterator

from flask_babel import lazy_gettext as _l
from markupsafe import escape


class FileUnreadable(Exception):
    """The file as a whole cannot be read (format, encoding); ``message`` is safe to show."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def file_format(filename: str, content: bytes) -> str:
    """``csv`` or ``xlsx`` from the name, checked against the content; raises FileUnreadable."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        if not content.startswith(b"PK\x03\x04"):
            raise FileUnreadable(_l("This .xlsx file is not an Excel workbook."))
        return "xlsx"
    if name.endswith(".csv"):
        return "csv"
    raise FileUnreadable(_l("Upload a .csv or .xlsx file."))


def read_lines(content: bytes, fmt: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every line, the header first. Raises FileUnreadable."""
    if fmt == "xlsx":
        yield from _xlsx_lines(content)
        return
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileUnreadable(_l("The file is not UTF-8 text. Save it as \"CSV UTF-8\" and upload it again.")) from None
    first = text[: text.find("\n")] if "\n" in text else text
    reader = csv.reader(io.StringIO(text), delimiter=";" if first.count(";") > first.count(",") else ",")
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as exc:
        raise FileUnreadable(_l("Line %(line)s cannot be read as CSV (%(error)s).",
                                line=reader.line_num, error=escape(str(exc)))) from None


def _xlsx_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phone numbers typed as numbers
    return str(value)


def _xlsx_lines(content: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles it does not need
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise FileUnreadable(
            _l("This .xlsx file cannot be read. Save it again from your spreadsheet program.")) from None
    try:
        sheet = workbook.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_xlsx_cell(v) for v in row]
    finally:
        workbook.close()
