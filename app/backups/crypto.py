"""Encryption at rest for backup artifacts: AES-256-GCM over 1 MiB chunks.

A file starts with a header (magic, key id, random salt); each file gets its own key
(HKDF of the configured key and the salt). Chunk ``i`` is sealed with nonce ``i`` and a
flag marking the last chunk, both authenticated, so a modified, reordered, dropped or
truncated chunk fails to decrypt. Keys come from ``BACKUP_ENCRYPTION_KEY``
(comma-separated, newest first): the first encrypts, each decrypts the files it made.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.config import decode_backup_key

ALGORITHM = "aes-256-gcm-chunked-v1"
MAGIC = b"SBKENC1\n"
CHUNK = 1024 * 1024
_LAST = 0x8000_0000
HEADER_SIZE = len(MAGIC) + 8 + 32


class InvalidBackupKey(ValueError):
    """A configured backup key is not 32 bytes of URL-safe base64."""


class DecryptionFailed(Exception):
    """The artifact cannot be decrypted: wrong key, modified or truncated data."""


def parse_key(value: str) -> tuple[str, bytes]:
    """``(key id, raw key)`` of a configured key; raises :class:`InvalidBackupKey`."""
    try:
        raw = decode_backup_key(value)
    except ValueError as exc:
        raise InvalidBackupKey(f"backup key is {exc}") from None
    return key_id(raw), raw


def key_id(raw: bytes) -> str:
    """A short public name for a key (the start of its SHA-256), stored in manifests."""
    return hashlib.sha256(b"saintara-backup-key-id" + raw).hexdigest()[:16]


def _file_key(raw: bytes, salt: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"saintara-backup-v1").derive(raw)
    return AESGCM(derived)


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class EncryptingWriter:
    """A file-like sink: what is written to it reaches ``out`` encrypted."""

    def __init__(self, out, raw_key: bytes):
        salt = os.urandom(32)
        self._header = MAGIC + bytes.fromhex(key_id(raw_key)) + salt
        self._aead = _file_key(raw_key, salt)
        self._out = out
        self._buffer = bytearray()
        self._index = 0
        out.write(self._header)

    def write(self, data) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK:  # strictly more: the last chunk is sealed at close
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()

    def _seal(self, plain: bytes, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._index, last), plain, self._header)
        self._out.write(struct.pack(">I", len(sealed) | (_LAST if last else 0)) + sealed)
        self._index += 1


def header_key_id(header: bytes) -> str | None:
    """The key id in an encrypted artifact's header, or None when it is not encrypted."""
    if len(header) < HEADER_SIZE or not header.startswith(MAGIC):
        return None
    return header[len(MAGIC): len(MAGIC) + 8].hex()


def decrypt_chunks(chunks: Iterable[bytes], keys: dict[str, bytes]) -> Iterator[bytes]:
    """Decrypt an artifact given as raw byte chunks; ``keys`` maps key id to raw key.

    Raises :class:`DecryptionFailed` for an unknown key, any modification, or truncation.
    """
    buffer = bytearray()
    source = iter(chunks)

    def need(n: int) -> bool:
        while len(buffer) < n:
            piece = next(source, None)
            if piece is None:
                return False
            buffer.extend(piece)
        return True

    if not need(HEADER_SIZE) or not buffer.startswith(MAGIC):
        raise DecryptionFailed("the artifact is not encrypted in this portal's format")
    header = bytes(buffer[:HEADER_SIZE])
    del buffer[:HEADER_SIZE]
    kid = header_key_id(header)
    if kid not in keys:
        raise DecryptionFailed(f"no configured BACKUP_ENCRYPTION_KEY has the id {kid}")
    aead = _file_key(keys[kid], header[-32:])
    index = 0
    while True:
        if not need(4):
            raise DecryptionFailed("the artifact is truncated (its last encrypted chunk is missing)")
        (word,) = struct.unpack(">I", buffer[:4])
        last, size = bool(word & _LAST), word & ~_LAST
        if size > CHUNK + 16 or not need(4 + size):
            raise DecryptionFailed("the artifact is truncated or damaged (bad chunk length)")
        sealed = bytes(buffer[4: 4 + size])
        del buffer[: 4 + size]
        try:
            yield aead.decrypt(_nonce(index, last), sealed, header)
        except InvalidTag:
            raise DecryptionFailed(f"encrypted chunk {index} was modified or the key is wrong") from None
        index += 1
        if last:
            if buffer or next(source, None):
                raise DecryptionFailed("the artifact has data after its last encrypted chunk")
            return
