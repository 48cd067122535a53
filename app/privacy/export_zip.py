"""The ZIP of an access export, written without holding it in memory.

Each dataset is written a batch of records at a time as JSON (one array of objects) and as
CSV at once, into two staging files beside the ZIP (app.privacy.export_cells turns the values
into text); the SHA-256 and the row count of each file are taken as it is written.
:meth:`ExportWriter.close` then deflates the staged files into the ZIP (a streamed copy),
adds ``README.txt`` and ``manifest.json`` (counts and the SHA-256 of every other file), and
renames the finished ZIP into place: a reader never sees half a ZIP.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.privacy.export_cells import csv_cells, csv_text, json_objects, json_value

COMPRESSION_LEVEL = 1  # deflate's fastest level: text compresses well at any level, time does not
COPY_CHUNK = 1 << 18
FORMAT_VERSION = 1


class _HashingFile:
    """A file that hashes what is written to it (text, as UTF-8) and counts its bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = open(path, "wb")  # noqa: SIM115 (closed by close())
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, text: str) -> int:
        data = text.encode("utf-8")
        self.sha256.update(data)
        self.size += len(data)
        self._handle.write(data)
        return len(text)

    def close(self) -> None:
        self._handle.close()


@dataclass
class StagedFile:
    name: str  # the name inside the ZIP
    path: Path
    rows: int | None
    sha256: str
    size: int


class Dataset:
    """One kind of record written as ``<name>.json`` (an array) and ``<name>.csv`` (a header
    of ``columns``; structured values as JSON text in their cell)."""

    def __init__(self, writer: ExportWriter, name: str, columns: tuple[str, ...]) -> None:
        self.writer, self.name, self.columns = writer, name, columns
        self.rows = 0
        self._json = _HashingFile(writer.staging / f"{name}.json")
        self._csv_file = _HashingFile(writer.staging / f"{name}.csv")
        header = io.StringIO()
        csv.writer(header, lineterminator="\r\n").writerow(columns)
        self._csv_file.write(header.getvalue())
        self._json.write("[")

    def write(self, record: Mapping) -> None:
        """Add one record (a mapping with the dataset's columns)."""
        self.write_columns([[record.get(column)] for column in self.columns])

    def write_rows(self, rows: Sequence[Sequence]) -> None:
        """Add records given as their values in column order."""
        if rows:
            self.write_columns(list(zip(*rows, strict=True)))

    def write_columns(self, columns: Sequence[Sequence]) -> None:
        """Add a batch of records given column by column (the fast way: app.privacy.export_cells)."""
        if len(columns) != len(self.columns):
            raise ValueError(f"{self.name}: {len(columns)} columns given for {len(self.columns)}")
        count = len(columns[0])
        if not count:
            return
        objects = json_objects(self.columns, columns)
        self._json.write(("\n" if self.rows == 0 else ",\n") + ",\n".join(objects))
        self._csv_file.write(csv_text([csv_cells(c) for c in columns]))
        self.rows += count

    def write_all(self, records: Iterable[Mapping]) -> None:
        for record in records:
            self.write(record)

    def close(self) -> None:
        self._json.write("\n]\n" if self.rows else "]\n")
        for handle, suffix in ((self._json, "json"), (self._csv_file, "csv")):
            handle.close()
            self.writer.staged.append(StagedFile(f"{self.name}.{suffix}", handle.path, self.rows,
                                                 handle.sha256.hexdigest(), handle.size))

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class ExportWriter:
    """Writes the export's ZIP at ``path`` (a ``.partial`` file until :meth:`close`)."""

    path: Path
    staged: list[StagedFile] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=".export-", dir=self.path.parent))
        self.partial = self.path.with_name(self.path.name + ".partial")

    def dataset(self, name: str, columns: tuple[str, ...]) -> Dataset:
        """A dataset to fill (use it as a context manager: leaving it closes its files)."""
        return Dataset(self, name, columns)

    def document(self, name: str, value) -> None:
        """A whole JSON document (a small one: the profile)."""
        handle = _HashingFile(self.staging / name)
        handle.write(json.dumps(value, ensure_ascii=False, indent=2, default=json_value) + "\n")
        handle.close()
        self.staged.append(StagedFile(name, handle.path, None, handle.sha256.hexdigest(), handle.size))

    def close(self, readme: str, about: Mapping) -> dict:
        """Write the ZIP: every staged file, ``README.txt``, then ``manifest.json`` (``about`` plus
        each file's rows, size and SHA-256). Returns the manifest."""
        readme_bytes = readme.encode("utf-8")
        files = [{"name": f.name, "rows": f.rows, "bytes": f.size, "sha256": f.sha256} for f in self.staged]
        files.append({"name": "README.txt", "rows": None, "bytes": len(readme_bytes),
                      "sha256": hashlib.sha256(readme_bytes).hexdigest()})
        manifest = {"format_version": FORMAT_VERSION, **about, "files": files}
        fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED,
                                                         compresslevel=COMPRESSION_LEVEL) as archive:
            archive.writestr("README.txt", readme_bytes)
            for staged in self.staged:
                with open(staged.path, "rb") as source, archive.open(staged.name, "w", force_zip64=True) as target:
                    shutil.copyfileobj(source, target, COPY_CHUNK)
            archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        os.replace(self.partial, self.path)
        self._clean_staging()
        return manifest

    def abort(self) -> None:
        """Remove everything written so far (the export failed before :meth:`close` finished)."""
        self._clean_staging()
        self.partial.unlink(missing_ok=True)

    def _clean_staging(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
