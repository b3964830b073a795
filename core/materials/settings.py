"""Settings of the materials pipeline: one pydantic ``BaseSettings`` (like the WeChat
channel's ``WeChatConfig``), every field from a ``MATERIALS_*`` environment variable.
Empty variables count as unset. See docs/materials.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseSettings, validator
from pydantic.env_settings import SettingsSourceCallable

from core.db.session import PROJECT_ROOT

DEFAULT_STORAGE_DIR = PROJECT_ROOT / "var" / "materials"
STORAGE_KINDS = ("local", "s3")


class MaterialsSettings(BaseSettings):
    # One file: the widget's upload and a WeChat image alike (WeChat's own limit: 10 MB).
    max_file_bytes: int = 10 * 1024 * 1024
    # Files per appeal (clean and still in quarantine; refused ones do not count).
    max_files_per_appeal: int = 20
    # Decompression bombs: an image with more pixels than this is refused unopened.
    max_image_pixels: int = 40_000_000
    # Largest side of a re-encoded image (larger ones are scaled down).
    max_image_side: int = 4096
    # "local" (a directory under var/, default) or "s3" (boto3; bucket below).
    storage: str = "local"
    storage_dir: Path = DEFAULT_STORAGE_DIR
    s3_bucket: str = ""
    s3_prefix: str = "materials/"
    s3_endpoint_url: str = ""
    s3_region: str = ""
    # clamd: a unix socket (default, Debian's path) or host + port (TCP) when host is set.
    clamd_socket: str = "/var/run/clamav/clamd.ctl"
    clamd_host: str = ""
    clamd_port: int = 3310
    clamd_timeout_s: float = 30.0
    # WeChat keeps a media file for 3 days after the message.
    wechat_media_max_age_s: float = 3 * 24 * 3600
    # A WeChat file that could not be fetched at once is fetched again for this long after
    # the message (capped by the media window above). 46 hours: the last outcome still
    # reaches the merchant inside WeChat's 48-hour customer-service window.
    wechat_retry_for_s: float = 46 * 3600
    # How often the channel looks for downloads due again.
    wechat_retry_poll_s: float = 30.0

    class Config:
        env_prefix = "MATERIALS_"
        anystr_strip_whitespace = True

        @classmethod
        def customise_sources(
            cls,
            init_settings: SettingsSourceCallable,
            env_settings: SettingsSourceCallable,
            file_secret_settings: SettingsSourceCallable,
        ) -> tuple[SettingsSourceCallable, ...]:
            def environment(settings: BaseSettings) -> dict[str, Any]:
                return {name: value for name, value in env_settings(settings).items()
                        if not (isinstance(value, str) and not value.strip())}

            return init_settings, environment

    @validator("storage")
    def _known_storage(cls, value: str) -> str:
        value = value.lower()
        if value not in STORAGE_KINDS:
            raise ValueError(f"storage (MATERIALS_STORAGE) must be one of "
                             f"{', '.join(STORAGE_KINDS)}, not {value!r}")
        return value

    @validator("max_file_bytes", "max_files_per_appeal", "max_image_pixels", "max_image_side")
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @validator("wechat_retry_for_s", "wechat_retry_poll_s")
    def _positive_seconds(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0 seconds")
        return value
