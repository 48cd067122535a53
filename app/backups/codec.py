"""Artifact byte streams: compress (zstd or gzip), optionally encrypt, and hash.

Writing: raw dump bytes -> compressor -> (encryptor) -> SHA-256 + file.
Reading: file -> (decryptor) -> decompressor -> raw dump bytes, checking that the
compressed stream is complete (a truncated artifact never decodes as a whole one).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import zstandard

from app.backups.crypto import DecryptionFailed, EncryptingWriter, decrypt_chunks

READ_SIZE = 1024 * 1024
COMPRESSIONS = ("zstd", "gzip")
EXTENSIONS = {"zstd": "zst", "gzip": "gz"}


class ArtifactDamaged(Exception):
    """The artifact does not decode: truncated, modified, or not what the manifest says."""

class _HashingFile:
    """Writes to a file while counting bytes and computing their SHA-256."""

    def __init__(self, handle):
        self.handle = handle
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.handle.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.handle.flush()


@dataclass(frozen=True)
class WrittenArtifact:
    size_bytes: int
    sha256: str
    dump_bytes: int


class ArtifactWriter:
    """A sink for raw dump bytes that leaves a compressed (and maybe encrypted) file behind."""

    def __init__(self, path: Path, *, compression: str = "zstd", key: bytes | None = None,
                 level: int = 3, threads: int = 0):
        if compression not in COMPRESSIONS:
            raise ValueError(f"unknown compression {compression!r}")
        self.path = path
        # Owner-only: a backup holds every secret the database holds.
        self._handle = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
        self._hashing = _HashingFile(self._handle)
        self._encryptor = EncryptingWriter(self._hashing, key) if key is not None else None
        sink = self._encryptor or self._hashing
        if compression == "zstd":
            cctx = zstandard.ZstdCompressor(level=level, threads=threads or -1, write_checksum=True)
            self._compressor = cctx.stream_writer(sink, closefd=False)
        else:
            self._compressor = gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6, mtime=0)
        self.dump_bytes = 0

    def write(self, data) -> int:
        self._compressor.write(data)
        self.dump_bytes += len(data)
        return len(data)

    def close(self) -> WrittenArtifact:
        """Finish every layer and make the file durable; returns its size and checksum."""
        self._compressor.close()
        if self._encryptor is not None:
            self._encryptor.close()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        return WrittenArtifact(self._hashing.size, self._hashing.sha256.hexdigest(), self.dump_bytes)

    def abort(self) -> None:
        """Drop the partial file (a failed backup leaves nothing that could pass for one)."""
        try:
            self._handle.close()
        finally:
            self.path.unlink(missing_ok=True)


def file_chunks(path: Path, sha256=None) -> Iterator[bytes]:
    """The bytes of ``path`` in chunks, feeding ``sha256`` (a hashlib object) on the way."""
    with open(path, "rb") as handle:
        while chunk := handle.read(READ_SIZE):
            if sha256 is not None:
                sha256.update(chunk)
            yield chunk


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    for _chunk in file_chunks(path, digest):
        pass
    return digest.hexdigest()


def decode(chunks: Iterable[bytes], *, compression: str, keys: dict[str, bytes] | None = None,
           encrypted: bool = False) -> Iterator[bytes]:
    """Raw dump bytes from artifact chunks; raises :class:`ArtifactDamaged` on any defect."""

    try:
        source = decrypt_chunks(chunks, keys or {}) if encrypted else chunks
        if compression == "zstd":
            yield from _decompress(source, zstandard.ZstdDecompressor().decompressobj(), zstandard.ZstdError)
        elif compression == "gzip":
            yield from _decompress(source, zlib.decompressobj(wbits=31), zlib.error)
        else:
            raise ArtifactDamaged(f"unknown compression {compression!r}")
    except DecryptionFailed as exc:
        raise ArtifactDamaged(str(exc)) from None


def _decompress(source: Iterable[bytes], dobj, error: type[Exception]) -> Iterator[bytes]:
    for chunk in source:
        if dobj.eof:
            raise ArtifactDamaged("the artifact has data after its compressed stream")
        try:
            out = dobj.decompress(chunk)
        except error as exc:
            raise ArtifactDamaged(f"the compressed stream is damaged ({exc})") from None
        if out:
            yield out
    if not dobj.eof:
        raise ArtifactDamaged("the artifact is truncated (its compressed stream does not end)")
    if dobj.unused_data:
        raise ArtifactDamaged("the artifact has data after its compressed stream")
