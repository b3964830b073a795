"""Storage: the local directory (private modes, atomic, no path tricks) and S3 through
boto3 (moto when it is installed; a recording client otherwise)."""

from __future__ import annotations

import io
import stat
from pathlib import Path
from typing import Any

import pytest

from core.materials import LocalStorage, MaterialsSettings, S3Storage, StorageError
from core.materials.storage import storage_from_settings

KEY = "clean/AbCdEfGhIjKlMnOpQrStUvWx.jpg"


def test_local_files_are_0600_in_0700_directories_whatever_the_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0o000)
    try:
        storage = LocalStorage(tmp_path / "var" / "materials")
        storage.put(KEY, b"data", "image/jpeg")
    finally:
        os.umask(old)
    path = tmp_path / "var" / "materials" / KEY
    assert path.read_bytes() == b"data" == storage.get(KEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "var" / "materials").stat().st_mode) == 0o700
    assert not list(path.parent.glob("*.part"))
    storage.delete(KEY)
    assert not path.exists()


@pytest.mark.parametrize("key", ["../x.jpg", "/etc/passwd", "clean/../../x.jpg", "clean/a.jpg",
                                 "clean/AbCdEfGhIjKlMnOpQrStUvWx.jpg/../x"])
def test_keys_that_are_not_the_pipelines_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        LocalStorage(tmp_path).put(key, b"x", "image/jpeg")


def test_a_missing_file_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        LocalStorage(tmp_path).get(KEY)


class RecordingS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}

    def put_object(self, **kwargs: Any) -> None:
        self.objects[(kwargs["Bucket"], kwargs["Key"])] = kwargs

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3's
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)]["Body"])}

    def delete_object(self, Bucket: str, Key: str) -> None:  # noqa: N803
        self.objects.pop((Bucket, Key), None)


def test_s3_objects_are_private_encrypted_and_prefixed() -> None:
    client = RecordingS3()
    storage = S3Storage("appeals", "materials/", client=client)
    storage.put(KEY, b"pdf bytes", "application/pdf")
    sent = client.objects[("appeals", "materials/" + KEY)]
    assert sent["ACL"] == "private" and sent["ServerSideEncryption"] == "AES256"
    assert sent["ContentType"] == "application/pdf"
    assert storage.get(KEY) == b"pdf bytes"
    storage.delete(KEY)
    assert client.objects == {}
    with pytest.raises(StorageError):
        storage.get(KEY)


def test_s3_is_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("boto3")
    monkeypatch.setenv("MATERIALS_STORAGE", "s3")
    monkeypatch.setenv("MATERIALS_S3_BUCKET", "appeal-files")
    monkeypatch.setenv("MATERIALS_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    storage = storage_from_settings(MaterialsSettings())
    assert isinstance(storage, S3Storage) and storage.bucket == "appeal-files"
    assert storage.client.meta.endpoint_url == "http://127.0.0.1:9"
    monkeypatch.setenv("MATERIALS_S3_BUCKET", "")
    with pytest.raises(ValueError):
        storage_from_settings(MaterialsSettings())


def test_s3_through_moto_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    moto = pytest.importorskip("moto", reason="moto is not installed: S3 round trip skipped "
                                              "(the recording client above still runs)")
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        boto3.client("s3").create_bucket(Bucket="appeal-files")
        storage = S3Storage("appeal-files")
        storage.put(KEY, b"x", "image/jpeg")
        assert storage.get(KEY) == b"x"
