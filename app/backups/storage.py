"""Where artifacts and manifests live: a local directory (``BACKUP_DIR``) or S3.

An artifact is first written to the staging folder (``BACKUP_DIR/.incoming``) and only
then stored under its final name: a rename on disk, a completed multipart upload on S3
(an interrupted upload never becomes an object). The manifest is stored last; a backup
without a manifest does not exist for the catalogue, and cleanup removes its leftovers.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from flask import current_app

MANIFEST_SUFFIX = ".manifest.json"
STATUS_SUFFIX = ".status.json"


class StorageError(Exception):
    """The backup storage cannot be reached or refused an operation."""


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard_staged(staging: Path) -> list[str]:
    removed = []
    if staging.is_dir():
        for path in staging.iterdir():
            if path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path.name)
    return removed


class LocalStorage:
    kind = "local"

    def __init__(self, root: Path):
        self.root = root
        self.staging = root / ".incoming"

    def prepare(self) -> None:
        self.staging.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)  # backups hold every secret the database holds

    def put_artifact(self, staged: Path, name: str, progress: Callable[[float], None] | None = None) -> None:
        os.replace(staged, self.root / name)
        _fsync_dir(self.root)
        if progress:
            progress(1.0)

    def put_json(self, name: str, data: dict) -> None:
        _atomic_write(self.root / name, json.dumps(data, indent=2, sort_keys=True).encode())

    def get_json(self, name: str) -> dict | None:
        try:
            return json.loads((self.root / name).read_text())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise StorageError(f"{name} is not valid JSON ({exc})") from None

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_file() and not p.name.startswith("."))

    def delete(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)

    @contextlib.contextmanager
    def fetch(self, name: str) -> Iterator[Path]:
        """A local path to read the artifact from (the stored file itself)."""
        path = self.root / name
        if not path.exists():
            raise StorageError(f"{name} is missing from {self.root}")
        yield path

    def discard_incomplete(self) -> list[str]:
        """Remove staged leftovers of killed backups (call only while holding the backup lock)."""
        return _discard_staged(self.staging)

    def describe(self) -> str:
        return str(self.root)


class S3Storage:
    kind = "s3"

    def __init__(self, staging: Path, *, bucket: str, prefix: str, endpoint_url: str | None,
                 region: str | None, part_size: int):
        import boto3
        from botocore.config import Config

        self.staging = staging
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region,
                                   config=Config(retries={"max_attempts": 5, "mode": "standard"}))

    def prepare(self) -> None:
        self.staging.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _key(self, name: str) -> str:
        return self.prefix + name

    @contextlib.contextmanager
    def _errors(self, what: str):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 {what} failed: {exc}") from exc

    def _transfer_config(self):
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(multipart_threshold=self.part_size, multipart_chunksize=self.part_size,
                              max_concurrency=4, use_threads=True)

    def put_artifact(self, staged: Path, name: str, progress: Callable[[float], None] | None = None) -> None:
        """Multipart upload (parts of BACKUP_S3_PART_SIZE_MB); the object appears only when complete."""
        total = max(1, staged.stat().st_size)
        sent = [0]

        def callback(n: int) -> None:
            sent[0] += n
            if progress:
                progress(sent[0] / total)

        with self._errors(f"upload of {name}"):
            self.client.upload_file(str(staged), self.bucket, self._key(name), Config=self._transfer_config(),
                                    Callback=callback, ExtraArgs={"ContentType": "application/octet-stream"})
        staged.unlink(missing_ok=True)

    def put_json(self, name: str, data: dict) -> None:
        with self._errors(f"upload of {name}"):
            self.client.put_object(Bucket=self.bucket, Key=self._key(name), ContentType="application/json",
                                   Body=json.dumps(data, indent=2, sort_keys=True).encode())

    def get_json(self, name: str) -> dict | None:
        with self._errors(f"download of {name}"):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"].read()
            except self.client.exceptions.NoSuchKey:
                return None
        try:
            return json.loads(body)
        except ValueError as exc:
            raise StorageError(f"{name} is not valid JSON ({exc})") from None

    def names(self) -> list[str]:
        found = []
        with self._errors("listing"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", ()):
                    name = item["Key"][len(self.prefix):]
                    if name and "/" not in name:
                        found.append(name)
        return sorted(found)

    def delete(self, name: str) -> None:
        with self._errors(f"deletion of {name}"):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(name))

    @contextlib.contextmanager
    def fetch(self, name: str) -> Iterator[Path]:
        """Download the artifact (ranged parts in parallel) to the staging folder; removed afterwards."""
        self.prepare()
        fd, tmp = tempfile.mkstemp(dir=self.staging, prefix="download-")
        os.close(fd)
        try:
            with self._errors(f"download of {name}"):
                self.client.download_file(self.bucket, self._key(name), tmp, Config=self._transfer_config())
            yield Path(tmp)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def discard_incomplete(self) -> list[str]:
        """Abort multipart uploads left by killed backups, and remove staged leftovers."""
        removed = _discard_staged(self.staging)
        with self._errors("listing of unfinished uploads"):
            uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix).get("Uploads", [])
            for upload in uploads:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                removed.append(upload["Key"][len(self.prefix):] + " (unfinished upload)")
        return removed

    def download_url(self, name: str, seconds: int = 300) -> str:
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": self._key(name)},
                                                  ExpiresIn=seconds)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def get_storage(app=None) -> LocalStorage | S3Storage:
    """The storage the configuration names (BACKUP_STORAGE, BACKUP_DIR, BACKUP_S3_*)."""
    config = (app or current_app).config
    root = Path(config["BACKUP_DIR"])
    if config["BACKUP_STORAGE"] == "s3":
        return S3Storage(root / ".incoming", bucket=config["BACKUP_S3_BUCKET"], prefix=config["BACKUP_S3_PREFIX"],
                         endpoint_url=config["BACKUP_S3_ENDPOINT_URL"], region=config["BACKUP_S3_REGION"],
                         part_size=config["BACKUP_S3_PART_SIZE_MB"] * 1024 * 1024)
    return LocalStorage(root)
