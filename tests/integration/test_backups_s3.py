"""S3 storage against a loopback S3 server (moto in server mode): multipart, retention, interruptions."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.backups import catalogue, procedures
from app.backups.errors import BackupFailed
from app.database import transaction
from app.extensions import db
from app.settings import services as settings
from tests.backups_helpers import (
    ACTOR,
    add_bulk_rows,
    cli_env,
    make_superadmin,
    pg_app_with_demo,
    signed_in_client,
    table_contents,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
BUCKET = "saintara-test-backups"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server, in its own process, on a loopback port."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None, "moto server did not start"
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for upload in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        client.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def app(tmp_path, redis_url, s3, s3_endpoint):
    with pg_app_with_demo(tmp_path, redis_url, "saintara_test_backups_s3", BACKUP_STORAGE="s3",
                          BACKUP_S3_BUCKET=BUCKET, BACKUP_S3_PREFIX="site-a/backups/",
                          BACKUP_S3_ENDPOINT_URL=s3_endpoint, BACKUP_S3_REGION="us-east-1",
                          BACKUP_S3_PART_SIZE_MB=5) as application:
        add_bulk_rows(250_000)  # about 9 MB compressed: two 5 MB parts
        yield application


def keys(s3) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_backups_live_in_s3_with_multipart_uploads(app, s3):
    result = procedures.create_backup(ACTOR, drill=True)
    backup_id, manifest = result.backup_id, result.manifest
    parts = -(-manifest["size_bytes"] // (5 * 1024 * 1024))
    assert manifest["storage"] == "s3" and parts >= 2
    assert keys(s3) == sorted([*(f"site-a/backups/{backup_id}{suffix}" for suffix in
                                 (".manifest.json", ".status.json", ".pgdump.zst")),
                               "site-a/backups/erasure-ledger.json"])  # the erasure ledger travels with backups
    head = s3.head_object(Bucket=BUCKET, Key=f"site-a/backups/{manifest['artifact']}")
    assert head["ETag"].strip('"').endswith(f"-{parts}") and head["ContentLength"] == manifest["size_bytes"]
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key=f"site-a/backups/{backup_id}.manifest.json")["Body"].read())
    assert stored == manifest
    assert not list((Path(app.config["BACKUP_DIR"]) / ".incoming").iterdir())  # staging emptied

    # The catalogue is rebuilt from the bucket (a new server, or after a restore).
    with transaction():
        db.session.execute(db.text("DELETE FROM backups"))
        assert catalogue.sync_catalogue() == (1, 0)
    assert catalogue.get_backup(backup_id).status == "drilled"

    # Restore downloads the artifact (ranged parts) and replaces the database.
    at_backup = table_contents()
    with transaction():
        db.session.execute(db.text("DELETE FROM bulk_notes WHERE id % 2 = 0"))
    restored = procedures.restore_backup(ACTOR, backup_id)
    assert table_contents()["bulk_notes"] == at_backup["bulk_notes"]

    # Download: a short-lived presigned URL straight from the bucket.
    client = signed_in_client(app, make_superadmin(), stepped_up=True)
    response = client.get(f"/backups/{backup_id}/download")
    assert response.status_code == 302 and response.headers["Location"].startswith(app.config[
        "BACKUP_S3_ENDPOINT_URL"])
    with urllib.request.urlopen(response.headers["Location"]) as download:
        assert len(download.read()) == manifest["size_bytes"]

    # Retention deletes from the bucket, and audits each deletion.
    with transaction():
        settings.update(ACTOR, "backup_keep_verified", "1", expected_version=None)
        settings.update(ACTOR, "backup_retention_days", "1", expected_version=None)
    old = json.loads(s3.get_object(Bucket=BUCKET, Key=f"site-a/backups/{backup_id}.manifest.json")["Body"].read())
    s3.put_object(Bucket=BUCKET, Key=f"site-a/backups/{backup_id}.manifest.json",
                  Body=json.dumps({**old, "created_at": "2020-01-01T00:00:00+00:00"}).encode())
    deleted, _ = procedures.cleanup(ACTOR)
    assert deleted == [backup_id]
    assert not [k for k in keys(s3) if backup_id in k] and any(restored.safety_id in k for k in keys(s3))
    db.session.remove()
    assert db.session.scalars(select(AuditLog.resource_id).where(AuditLog.action == "BACKUP_DELETE")).all() == [
        backup_id]


class FlakyLink:
    """A loopback TCP proxy in front of the S3 server. At most ``rate`` bytes per second each way;
    with ``cut_after`` the link goes down for good once that many bytes went up (connections
    reset, new ones refused); with ``hold_completion`` the request that would complete a
    multipart upload never arrives (``held`` is set), as when a process dies just before it."""

    def __init__(self, target_port: int, rate: int, cut_after: int | None = None, hold_completion: bool = False):
        self.rate, self.target_port, self.cut_after = rate, target_port, cut_after
        self.hold_completion = hold_completion
        self.held = threading.Event()
        self.sent = 0
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, upwards: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if upwards and self.hold_completion and b"POST /" in chunk and b"uploadId=" in chunk:
                    self.held.set()
                    self.closed.wait()  # CompleteMultipartUpload: never delivered
                    return
                sink.sendall(chunk)
                time.sleep(len(chunk) / self.rate)
                if upwards and self.cut_after is not None:
                    with self.lock:
                        self.sent += len(chunk)
                        cut = self.sent >= self.cut_after
                    if cut:
                        self.close()
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self.closed.set()
        self.server.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def test_an_upload_interrupted_by_the_network_leaves_no_backup(app, s3, s3_endpoint):
    proxy = FlakyLink(int(s3_endpoint.rsplit(":", 1)[1]), rate=50 * 1024 * 1024, cut_after=7 * 1024 * 1024)
    app.config["BACKUP_S3_ENDPOINT_URL"] = f"http://127.0.0.1:{proxy.port}"
    try:
        with pytest.raises(BackupFailed, match="S3 upload of .* failed"):
            procedures.create_backup(ACTOR)
    finally:
        proxy.close()
    app.config["BACKUP_S3_ENDPOINT_URL"] = s3_endpoint
    assert keys(s3) == []  # no artifact object, no manifest: nothing that could pass for a backup
    assert catalogue.all_backups() == [] and not list((Path(app.config["BACKUP_DIR"]) / ".incoming").iterdir())
    db.session.remove()
    failure = db.session.scalars(select(AuditLog).where(AuditLog.result == "failure")).one()
    assert failure.action == "SYSTEM_BACKUP" and "S3 upload" in failure.description
    # The link died before the client could abort its multipart upload: cleanup does it.
    _, leftovers = procedures.cleanup(ACTOR)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert all("unfinished upload" in name for name in leftovers)


def test_a_backup_killed_during_its_upload_never_appears_and_cleanup_aborts_the_upload(app, s3, s3_endpoint):
    proxy = FlakyLink(int(s3_endpoint.rsplit(":", 1)[1]), rate=50 * 1024 * 1024, hold_completion=True)
    env = cli_env(app, BACKUP_STORAGE="s3", BACKUP_S3_BUCKET=BUCKET, BACKUP_S3_PREFIX="site-a/backups/",
                  BACKUP_S3_ENDPOINT_URL=f"http://127.0.0.1:{proxy.port}", BACKUP_S3_REGION="us-east-1",
                  BACKUP_S3_PART_SIZE_MB=5, **CREDENTIALS)
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "backup", "create"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Every part is up; the request that would complete the upload is held: kill the process now.
        assert proxy.held.wait(timeout=180), process.communicate() if process.poll() is not None else "no upload"
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        proxy.close()
    uploads = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    assert len(uploads) == 1
    assert s3.list_parts(Bucket=BUCKET, Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"])["Parts"]
    assert keys(s3) == []  # no object: an unfinished multipart upload is invisible
    listed = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "backup", "list", "--json"], cwd=ROOT,
                            env={**env, "BACKUP_S3_ENDPOINT_URL": s3_endpoint}, capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    cleaned = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "backup", "cleanup"], cwd=ROOT,
                             env={**env, "BACKUP_S3_ENDPOINT_URL": s3_endpoint}, capture_output=True, text=True,
                             timeout=60)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "(unfinished upload)" in cleaned.stdout and ".partial" in cleaned.stdout  # and the staged file
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
