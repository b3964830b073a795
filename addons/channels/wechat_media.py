"""WeChat images into the appeal materials (core.materials).

An image message carries a ``MediaId``; WeChat keeps the file for 3 days and hands it out
through ``GET {api_base}/cgi-bin/media/get?access_token=…&media_id=…`` (the body is the
file; an error is JSON with ``errcode``). For a sender verified on WeChat (an identity
binding of channel ``wechat``) with an open appeal, the image is fetched at once, within
that window, and goes through the same pipeline as the widget's upload (sniffed,
re-encoded without EXIF, scanned, stored), once per ``MsgId`` (WeChat retries). Anyone
else keeps today's answer (what helps an appeal) and the MediaId stays in the channel
state for 3 days, as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp
from wechatpy.messages import BaseMessage

from addons.channels.wechat_api import TOKEN_ERRORS, WeChatApi, WeChatApiError
from core.materials import ACCEPTED, MaterialsPipeline, Refused
from core.materials.errors import message_for
from core.materials.pipeline import source_ref as materials_source

logger = logging.getLogger(__name__)

CHANNEL_NAME = "wechat"
# 40007: invalid media_id (also: expired after its 3 days).
INVALID_MEDIA = 40007


class MediaTooLarge(Exception):
    pass


class WeChatMedia:
    """Downloads one media file, at most ``max_bytes``."""

    def __init__(self, api: WeChatApi, max_bytes: int, timeout_s: float = 15.0) -> None:
        self.api = api
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def fetch(self, media_id: str) -> bytes:
        for attempt in (1, 2):
            token = await self.api.access_token()
            body, is_json = await self._get(token, media_id)
            if not is_json:
                return body
            try:
                result = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise WeChatApiError(None, "unreadable error answer", "media/get") from None
            errcode = int(result.get("errcode") or 0) if isinstance(result, dict) else None
            if errcode in TOKEN_ERRORS and attempt == 1:
                await self.api.state.drop_access_token(self.api.app_id, token)
                continue
            errmsg = str(result.get("errmsg", "")) if isinstance(result, dict) else ""
            raise WeChatApiError(errcode, errmsg, "media/get")
        raise WeChatApiError(None, "token refused twice", "media/get")

    async def _get(self, token: str, media_id: str) -> tuple[bytes, bool]:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
                f"{self.api.api_base}/cgi-bin/media/get",
                params={"access_token": token, "media_id": media_id},
            ) as answer:
                if answer.status != 200:
                    raise WeChatApiError(None, f"HTTP {answer.status}", "media/get")
                content_type = answer.headers.get("Content-Type", "").lower()
                length = int(answer.headers.get("Content-Length") or 0)
                if length > self.max_bytes:
                    raise MediaTooLarge(length)
                chunks, total = [], 0
                async for chunk in answer.content.iter_chunked(64 * 1024):
                    total += len(chunk)
                    if total > self.max_bytes:
                        raise MediaTooLarge(total)
                    chunks.append(chunk)
                body = b"".join(chunks)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise WeChatApiError(None, f"{type(error).__name__}: {error}", "media/get") from error
        is_json = ("json" in content_type or content_type.startswith("text/")) \
            and body[:1] == b"{"
        return body, is_json


class WeChatMaterials:
    """What the channel does with an image message of a verified merchant."""

    def __init__(self, api: WeChatApi, pipeline: MaterialsPipeline | None = None) -> None:
        self.pipeline = pipeline or MaterialsPipeline()
        self.media = WeChatMedia(api, self.pipeline.settings.max_file_bytes)
        self._background: set[asyncio.Task] = set()

    async def take_image(self, message: BaseMessage) -> str | None:
        """The reply for this image; None when the sender has no appeal to add it to
        (not verified here, no open appeal, or the database cannot tell)."""
        openid = str(message.source or "")
        media_id = str(getattr(message, "media_id", "") or "")
        settings = self.pipeline.settings
        try:
            owner = await asyncio.to_thread(self.pipeline.owner, CHANNEL_NAME, openid)
        except Refused:
            return None
        except Exception:  # noqa: BLE001 - the answer matters more than the material
            logger.exception("wechat: who sent the image could not be checked")
            return None
        if not media_id:
            return message_for("unreadable")
        sent_at = float(getattr(message, "time", 0) or 0)
        if sent_at and time.time() - sent_at > settings.wechat_media_max_age_s:
            return message_for("expired")
        try:
            data = await self.media.fetch(media_id)
        except MediaTooLarge:
            return message_for("too_large", settings.max_file_bytes)
        except WeChatApiError as error:
            logger.error("wechat: image %s of %s not fetched: %s", media_id, openid, error)
            if error.errcode == INVALID_MEDIA:
                return message_for("expired")
            return message_for("unavailable")
        source_ref = materials_source("wechat", openid, str(message.id or media_id))
        outcome = await asyncio.to_thread(
            self.pipeline.accept, owner.merchant_id, owner.appeal_id, CHANNEL_NAME,
            source_ref, data, "微信图片")
        if outcome.status == ACCEPTED:
            self._spawn(asyncio.to_thread(self.pipeline.rescan_quarantined, 20))
        return outcome.message

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, timeout_s: float = 10.0) -> None:
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout_s)
