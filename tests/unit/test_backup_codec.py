"""Artifact streams: compression, encryption at rest, and damage that must never decode."""

import base64
import os

import pytest

from app.backups import crypto
from app.backups.codec import ArtifactDamaged, ArtifactWriter, decode, file_chunks, sha256_of
from app.config import ConfigError, load_config

KEY = os.urandom(32)
KEYS = {crypto.key_id(KEY): KEY}
DATA = os.urandom(1_500_000) + b"saintara " * 400_000  # incompressible and compressible parts


def write(path, data=DATA, **options):
    writer = ArtifactWriter(path, **options)
    for i in range(0, len(data), 300_000):
        writer.write(data[i:i + 300_000])
    return writer.close()


def read(path, **options):
    return b"".join(decode(file_chunks(path), **options))


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
@pytest.mark.parametrize("encrypted", [False, True])
def test_round_trip(tmp_path, compression, encrypted):
    path = tmp_path / "artifact"
    written = write(path, compression=compression, key=KEY if encrypted else None)
    assert written.dump_bytes == len(DATA) and written.size_bytes == path.stat().st_size
    assert written.sha256 == sha256_of(path) and path.stat().st_mode & 0o777 == 0o600
    assert written.size_bytes < len(DATA)  # it did compress
    assert (crypto.header_key_id(path.read_bytes()[:100]) is not None) == encrypted
    if encrypted:
        assert b"saintara saintara" not in path.read_bytes()
    assert read(path, compression=compression, keys=KEYS, encrypted=encrypted) == DATA


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
@pytest.mark.parametrize("encrypted", [False, True])
@pytest.mark.parametrize("damage", ["flip", "truncate", "append"])
def test_damage_is_detected(tmp_path, compression, encrypted, damage):
    path = tmp_path / "artifact"
    write(path, compression=compression, key=KEY if encrypted else None)
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0x01
    elif damage == "truncate":
        del raw[-1000:]
    else:
        raw += b"extra"
    path.write_bytes(bytes(raw))
    with pytest.raises(ArtifactDamaged):
        read(path, compression=compression, keys=KEYS, encrypted=encrypted)


def test_wrong_or_missing_key_is_refused(tmp_path):
    path = tmp_path / "artifact"
    write(path, key=KEY)
    other = os.urandom(32)
    with pytest.raises(ArtifactDamaged, match="no configured BACKUP_ENCRYPTION_KEY"):
        read(path, compression="zstd", keys={crypto.key_id(other): other}, encrypted=True)
    forged = bytearray(path.read_bytes())
    forged[len(crypto.MAGIC):len(crypto.MAGIC) + 8] = bytes.fromhex(crypto.key_id(other))
    path.write_bytes(bytes(forged))
    with pytest.raises(ArtifactDamaged):
        read(path, compression="zstd", keys={crypto.key_id(other): other}, encrypted=True)
    with pytest.raises(ArtifactDamaged, match="not encrypted in this portal's format"):
        b"".join(decode(iter([b"plain data, long enough to hold a header" * 3]), compression="zstd",
                        keys=KEYS, encrypted=True))


def test_chunks_cannot_be_reordered_or_dropped(tmp_path):
    path = tmp_path / "artifact"
    write(path, data=os.urandom(3 * crypto.CHUNK), key=KEY)  # random: several encrypted chunks
    raw = path.read_bytes()
    header, body = raw[:crypto.HEADER_SIZE], raw[crypto.HEADER_SIZE:]
    frame = 4 + crypto.CHUNK + 16
    first, second, rest = body[:frame], body[frame:2 * frame], body[2 * frame:]
    for forged in (header + second + first + rest, header + first + rest, header + first + second):
        path.write_bytes(forged)
        with pytest.raises(ArtifactDamaged):
            read(path, compression="zstd", keys=KEYS, encrypted=True)


def test_unknown_compression_is_refused(tmp_path):
    with pytest.raises(ValueError):
        ArtifactWriter(tmp_path / "x", compression="lzma")
    with pytest.raises(ArtifactDamaged):
        b"".join(decode(iter([b"x"]), compression="lzma"))


def test_configuration_refuses_a_bad_backup_key(tmp_path):
    good = base64.urlsafe_b64encode(KEY).decode()
    config = load_config({"BACKUP_ENCRYPTION_KEY": f"{good}, "}, instance_path=tmp_path)
    assert config["BACKUP_ENCRYPTION_KEYS"] == [good]
    for bad in ("not-base64!", base64.urlsafe_b64encode(b"short").decode()):
        with pytest.raises(ConfigError, match="BACKUP_ENCRYPTION_KEY must be"):
            load_config({"BACKUP_ENCRYPTION_KEY": bad}, instance_path=tmp_path)
    with pytest.raises(crypto.InvalidBackupKey):
        crypto.parse_key("nope")


def test_configuration_of_storage_and_jobs(tmp_path):
    config = load_config({}, instance_path=tmp_path)
    assert config["BACKUP_DIR"] == str(tmp_path / "backups") and config["BACKUP_STORAGE"] == "local"
    assert config["JOBS_BACKEND"] == "thread"
    s3 = load_config({"BACKUP_S3_BUCKET": "b", "BACKUP_S3_PREFIX": "/x/y/", "REDIS_URL": "redis://r/0"},
                     instance_path=tmp_path)
    assert s3["BACKUP_STORAGE"] == "s3" and s3["BACKUP_S3_PREFIX"] == "x/y/" and s3["JOBS_BACKEND"] == "rq"
    assert load_config({"BACKUP_S3_PREFIX": ""}, instance_path=tmp_path)["BACKUP_S3_PREFIX"] == ""
    for env, message in [({"BACKUP_STORAGE": "s3"}, "BACKUP_S3_BUCKET is not set"),
                         ({"BACKUP_STORAGE": "ftp"}, "BACKUP_STORAGE must be one of"),
                         ({"JOBS_BACKEND": "rq"}, "JOBS_BACKEND=rq needs REDIS_URL"),
                         ({"BACKUP_COMPRESSION": "xz"}, "BACKUP_COMPRESSION must be one of")]:
        with pytest.raises(ConfigError, match=message):
            load_config(env, instance_path=tmp_path)
