"""Where material files live, behind one small interface.

- ``LocalStorage`` (default): a directory under ``var/`` (``MATERIALS_STORAGE_DIR``),
  outside any web root: nothing serves it; files 0600, directories 0700, whatever the
  umask. Keys are opaque (random), so a name never says whose file it is.
- ``S3Storage``: any S3-compatible service through boto3 (``MATERIALS_STORAGE=s3``,
  ``MATERIALS_S3_BUCKET``, ``MATERIALS_S3_PREFIX``, ``MATERIALS_S3_ENDPOINT_URL``,
  ``MATERIALS_S3_REGION``; credentials the usual boto3 way: ``AWS_ACCESS_KEY_ID`` …).
  Objects are written private with server-side encryption asked for.

Keys are never shown to clients: they see a material's id only.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from core.materials.settings import MaterialsSettings

KEY = re.compile(r"^[a-z]+/[A-Za-z0-9_-]{16,64}\.[a-z]{3,4}$")


class StorageError(RuntimeError):
    """The storage could not be reached or refused: nothing was kept."""


def _checked(key: str) -> str:
    # Keys are made by the pipeline; anything else (../, absolute paths) is a bug.
    if not KEY.match(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage(ABC):
    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    @abstractmethod
    def get(self, key: str) -> bytes: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def _private_dir(self, path: Path) -> None:
        for directory in (self.root, path):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        try:
            self._private_dir(path.parent)
            temporary = path.with_name(path.name + ".part")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)  # whole or not at all
        except OSError as error:
            raise StorageError(f"local storage: {type(error).__name__}: {error}") from error

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as error:
            raise StorageError(f"local storage: {type(error).__name__}: {error}") from error

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as error:
            raise StorageError(f"local storage: {type(error).__name__}: {error}") from error


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str = "materials/", client: Any = None,
                 endpoint_url: str = "", region: str = "") -> None:
        if not bucket:
            raise ValueError("MATERIALS_S3_BUCKET is needed for MATERIALS_STORAGE=s3")
        if client is None:
            import boto3  # optional: only this storage needs it

            client = boto3.client("s3", endpoint_url=endpoint_url or None,
                                  region_name=region or None)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return self.prefix + _checked(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data,
                                   ContentType=content_type, ACL="private",
                                   ServerSideEncryption="AES256")
        except Exception as error:  # noqa: BLE001 - botocore raises many kinds
            raise StorageError(f"s3: {type(error).__name__}: {error}") from error

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read()
        except Exception as error:  # noqa: BLE001
            raise StorageError(f"s3: {type(error).__name__}: {error}") from error

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as error:  # noqa: BLE001
            raise StorageError(f"s3: {type(error).__name__}: {error}") from error


def storage_from_settings(settings: MaterialsSettings) -> Storage:
    if settings.storage == "s3":
        return S3Storage(settings.s3_bucket, settings.s3_prefix,
                         endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)
    return LocalStorage(settings.storage_dir)
