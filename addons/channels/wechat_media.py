"""WeChat images and files into the appeal materials (core.materials).

An image or file message carries a ``MediaId``; WeChat keeps the file for 3 days and
hands it out through ``GET {api_base}/cgi-bin/media/get?access_token=…&media_id=…`` (the
body is the file; an error is JSON with ``errcode``). For a sender verified on WeChat
(an identity binding of channel ``wechat``) with an open appeal, the file is fetched at
once, within that window, and goes through the same pipeline as the widget's upload
(sniffed, images re-encoded without EXIF, PDFs checked, scanned, stored), once per
``MsgId`` (WeChat retries). Anyone else keeps today's answer for an image (what helps an
appeal; the MediaId stays in the channel state for 3 days, as before) and is told what
to do first for a file.

When WeChat cannot be reached or answers an error, the download goes to the outbox
(``core.db.media_downloads``) and the merchant is told it is received and being
processed: the channel's worker (``WeChatMaterials.start``, every
``MATERIALS_WECHAT_RETRY_POLL_S``) fetches it again with backoff until
``MATERIALS_WECHAT_RETRY_FOR_S`` after the message, and tells the outcome once through
the customer-service API; a download that finally fails is told once to send again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
from typing import Any

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from wechatpy.messages import BaseMessage

from addons.channels.wechat_api import (
    TOKEN_ERRORS,
    WeChatApi,
    WeChatApiError,
    WeChatWindowExpired,
)
from core.db import media_downloads as outbox
from core.db.media_downloads import DownloadStatus, Due
from core.db.models import utcnow
from core.db.session import get_engine
from core.materials import ACCEPTED, MaterialsPipeline, Outcome, Refused
from core.materials.errors import message_for
from core.materials.pipeline import clean_name
from core.materials.pipeline import source_ref as materials_source

logger = logging.getLogger(__name__)

CHANNEL_NAME = "wechat"
# 40007: invalid media_id (also: expired after its 3 days).
INVALID_MEDIA = 40007
# What the merchant's file is called when the message names none.
DEFAULT_NAMES = {"image": "微信图片", "file": "微信文件"}
# WeChat's customer-service window: messages to a user within 48 hours of theirs.
TELL_WINDOW = dt.timedelta(hours=48)
RETRYING_TEXT = ("收到「{name}」了。微信那边暂时取不到文件，我们会自动再取，处理好后在这里告诉你"
                 "结果，不用重新发。")
GAVE_UP_TEXT = ("抱歉，「{name}」一直没能从微信取到，没有加入申诉材料，请重新发一次。"
                "着急的话可以拨打微信支付客服 95017。")
# A refusal told later, without the message it answers: which file it is about.
ABOUT_TEXT = "关于「{name}」：{message}"


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


def _from_timestamp(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).replace(tzinfo=None)


def message_type(message: BaseMessage) -> str:
    return str(message._data.get("MsgType") or message.type).lower()


def file_name(message: BaseMessage, msg_type: str) -> str:
    """The name to show: a file's title (the merchant's, made safe), else a default."""
    given = ""
    if msg_type == "file":
        given = str(message._data.get("Title") or message._data.get("FileName") or "")
    return clean_name(given, "pdf") if given.strip() else DEFAULT_NAMES.get(msg_type, "文件")


class WeChatMaterials:
    """What the channel does with an image or file message of a verified merchant, and
    the worker that fetches again what WeChat did not hand out at once."""

    def __init__(self, api: WeChatApi, pipeline: MaterialsPipeline | None = None) -> None:
        self.api = api
        self.pipeline = pipeline or MaterialsPipeline()
        self.media = WeChatMedia(api, self.pipeline.settings.max_file_bytes)
        self._background: set[asyncio.Task] = set()
        self._worker: asyncio.Task | None = None

    def _session(self) -> Session:
        return Session(get_engine(self.pipeline.db_url), expire_on_commit=False)

    @property
    def account(self) -> str:
        return self.api.app_id

    # --- a message ------------------------------------------------------------------------
    async def take(self, message: BaseMessage) -> str | None:
        """The reply for this image or file. None for an image whose sender has no appeal
        to add it to (not verified here, no open appeal, or the database cannot tell):
        the channel's own answer then; a file is always answered here."""
        msg_type = message_type(message)
        is_file = msg_type == "file"
        openid = str(message.source or "")
        media_id = str(message._data.get("MediaId") or "")
        settings = self.pipeline.settings
        try:
            owner = await asyncio.to_thread(self.pipeline.owner, CHANNEL_NAME, openid)
        except Refused as refusal:
            return message_for(refusal.reason) if is_file else None
        except Exception:  # noqa: BLE001 - the answer matters more than the material
            logger.exception("wechat: who sent the %s could not be checked", msg_type)
            return message_for("unavailable") if is_file else None
        if not media_id:
            return message_for("no_media" if is_file else "unreadable")
        expired = "expired_file" if is_file else "expired"
        now = utcnow()
        created = float(getattr(message, "time", 0) or 0)
        sent_at = _from_timestamp(created) if created else now
        if (now - sent_at).total_seconds() > settings.wechat_media_max_age_s:
            return message_for(expired)
        declared = str(message._data.get("FileTotalLen") or "")
        if declared.isdigit() and int(declared) > settings.max_file_bytes:
            return message_for("too_large", settings.max_file_bytes)  # not even asked for
        name = file_name(message, msg_type)
        source_ref = materials_source(CHANNEL_NAME, openid, str(message.id or media_id))
        try:
            data = await self.media.fetch(media_id)
        except MediaTooLarge:
            return message_for("too_large", settings.max_file_bytes)
        except WeChatApiError as error:
            logger.error("wechat: %s %s of %s not fetched: %s", msg_type, media_id, openid,
                         error)
            if error.errcode == INVALID_MEDIA:
                return message_for(expired)
            return await self._later(openid, msg_type, media_id, source_ref, name,
                                     owner.merchant_id, owner.appeal_id, sent_at,
                                     _error_text(error))
        outcome = await asyncio.to_thread(
            self.pipeline.accept, owner.merchant_id, owner.appeal_id, CHANNEL_NAME,
            source_ref, data, name)
        if outcome.reason == "unavailable":
            # Storage or database down: WeChat still has the file, fetched again later.
            return await self._later(openid, msg_type, media_id, source_ref, name,
                                     owner.merchant_id, owner.appeal_id, sent_at,
                                     "unavailable: storage or database")
        if outcome.status == ACCEPTED:
            self._spawn(asyncio.to_thread(self.pipeline.rescan_quarantined, 20))
        return outcome.message

    async def _later(self, openid: str, msg_type: str, media_id: str, source_ref: str,
                     name: str, merchant_id: str, appeal_id: str, sent_at: dt.datetime,
                     error: str) -> str:
        """Into the outbox, and the merchant told it is being processed; when even that
        cannot be written (the database down), the old answer: send it again later."""
        settings = self.pipeline.settings
        fetch_for = min(settings.wechat_retry_for_s, settings.wechat_media_max_age_s)

        def write() -> None:
            with self._session() as session, session.begin():
                outbox.enqueue(
                    session, account=self.account, openid=openid, msg_type=msg_type,
                    media_id=media_id, source_ref=source_ref, file_name=name,
                    merchant_id=merchant_id, appeal_id=appeal_id, sent_at=sent_at,
                    fetch_until=sent_at + dt.timedelta(seconds=fetch_for),
                    tell_until=sent_at + TELL_WINDOW, error=error)

        try:
            await asyncio.to_thread(write)
        except SQLAlchemyError as failure:
            logger.error("wechat: %s %s of %s not kept for a retry (%s): asked to send "
                         "again", msg_type, media_id, openid, type(failure).__name__)
            return message_for("unavailable")
        logger.warning("wechat: %s %s of %s to be fetched again (%s)", msg_type, media_id,
                       openid, error)
        self.start()
        return RETRYING_TEXT.format(name=name)

    # --- the outbox worker ----------------------------------------------------------------
    def start(self) -> None:
        """The worker of this event loop (server start; also at the first download kept
        for a retry); nothing when it already runs."""
        if self._worker is not None and not self._worker.done() \
                and self._worker.get_loop() is asyncio.get_running_loop():
            return
        self._worker = asyncio.ensure_future(self._work())

    async def _work(self) -> None:
        while True:
            try:
                await self.retry_due()
            except Exception:  # noqa: BLE001 - the worker outlives any one failure
                logger.exception("wechat: media downloads not retried this round")
            await asyncio.sleep(self.pipeline.settings.wechat_retry_poll_s)

    async def retry_due(self, now: dt.datetime | None = None) -> int:
        """Fetches again (or tells the outcome of) every due download of this account;
        how many were taken."""
        now = now or utcnow()

        def claim() -> list[Due]:
            with self._session() as session, session.begin():
                # Ten at most: even ten fetches timing out end well within the lease.
                return outbox.claim_due(session, self.account, now, limit=10)

        claimed = await asyncio.to_thread(claim)
        for due in claimed:
            try:
                if due.status == DownloadStatus.pending.value:
                    await self._fetch_again(due, now)
                else:
                    await self._tell(due, now)
            except Exception:  # noqa: BLE001 - one row must not stop the others
                logger.exception("wechat: media download %s not retried", due.id)
        return len(claimed)

    def _write(self, change: Any, *args: Any, **kwargs: Any) -> Any:
        with self._session() as session, session.begin():
            return change(session, *args, **kwargs)

    async def _fetch_again(self, due: Due, now: dt.datetime) -> None:
        name = due.file_name or DEFAULT_NAMES.get(due.msg_type, "文件")
        last = now >= due.fetch_until
        if now - due.sent_at > dt.timedelta(seconds=self.pipeline.settings
                                            .wechat_media_max_age_s):
            await self._finish(due, now, "failed", GAVE_UP_TEXT.format(name=name),
                               error="expired: outside the media window")
            return
        try:
            owner = await asyncio.to_thread(self.pipeline.owner, CHANNEL_NAME, due.openid,
                                            due.appeal_id)
        except Refused as refusal:  # unbound or the appeal closed meanwhile
            text = ABOUT_TEXT.format(name=name, message=message_for(refusal.reason))
            await self._finish(due, now, "refused", text, error=f"refused: {refusal.reason}")
            return
        except SQLAlchemyError as failure:
            await self._failed(due, now, f"database: {type(failure).__name__}", name, last)
            return
        try:
            data = await self.media.fetch(due.media_id)
        except MediaTooLarge:
            text = ABOUT_TEXT.format(name=name, message=message_for(
                "too_large", self.pipeline.settings.max_file_bytes))
            await self._finish(due, now, "refused", text, error="too_large")
            return
        except WeChatApiError as error:
            logger.error("wechat: media download %s failed again: %s", due.id, error)
            await self._failed(due, now, _error_text(error), name,
                               last or error.errcode == INVALID_MEDIA)
            return
        outcome: Outcome = await asyncio.to_thread(
            self.pipeline.accept, owner.merchant_id, owner.appeal_id, CHANNEL_NAME,
            due.source_ref, data, name)
        if outcome.reason == "unavailable":
            await self._failed(due, now, "unavailable: storage or database", name, last)
            return
        if outcome.status == ACCEPTED:
            self._spawn(asyncio.to_thread(self.pipeline.rescan_quarantined, 20))
        text = outcome.message if outcome.kept else \
            ABOUT_TEXT.format(name=name, message=outcome.message)
        logger.info("wechat: media download %s fetched after %d attempt(s): %s", due.id,
                    due.attempts + 1, outcome.status)
        await self._finish(due, now, outcome.status, text, material_id=outcome.material_id)

    async def _failed(self, due: Due, now: dt.datetime, error: str, name: str,
                      last: bool) -> None:
        if last:
            logger.warning("wechat: media download %s given up after %d attempts (%s): the "
                           "merchant is asked to send it again", due.id, due.attempts + 1,
                           error)
            await self._finish(due, now, "failed", GAVE_UP_TEXT.format(name=name),
                               error=error)
            return

        def change(session: Session) -> None:
            outbox.fetch_failed(session, due, error, now)
            # Never past the last moment a fetch is tried: that one is tried too.
            row = session.get(outbox.MediaDownload, due.id)
            if row is not None and row.next_attempt_at > due.fetch_until:
                row.next_attempt_at = due.fetch_until

        await asyncio.to_thread(self._write, change)

    async def _finish(self, due: Due, now: dt.datetime, outcome: str, reply: str,
                      material_id: str | None = None, error: str | None = None) -> None:
        """The outcome is known: recorded (still held by this worker), then told."""
        await asyncio.to_thread(self._write, outbox.finished, due, outcome, reply,
                                material_id, error, now)
        attempts = due.attempts + (1 if error is not None else 0)
        await self._tell(dataclasses.replace(due, status=DownloadStatus.telling.value,
                                             reply=reply, attempts=attempts), now)

    async def _tell(self, due: Due, now: dt.datetime) -> None:
        if now >= due.tell_until:
            await self._untold(due, now, "window: 48 hours over", closed=True)
            return
        try:
            await self.api.send_text(due.openid, due.reply)
        except WeChatWindowExpired as error:
            await self._untold(due, now, _error_text(error), closed=True)
            return
        except WeChatApiError as error:
            await self._untold(due, now, _error_text(error), closed=False)
            return
        await asyncio.to_thread(self._write, outbox.told, due, now)

    async def _untold(self, due: Due, now: dt.datetime, error: str, closed: bool) -> None:
        status = await asyncio.to_thread(self._write, outbox.tell_failed, due, error,
                                         closed, now)
        if status == DownloadStatus.untold:
            logger.warning("wechat: the outcome of media download %s could not be told to "
                           "%s (%s): its row stays as untold", due.id, due.openid, error)

    # --- background -----------------------------------------------------------------------
    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, timeout_s: float = 10.0) -> None:
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout_s)

    async def close(self) -> None:
        """Stops the worker (server stop); rows still due wait in the table."""
        worker, self._worker = self._worker, None
        if worker is not None and not worker.done() \
                and worker.get_loop() is asyncio.get_running_loop():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker


def _error_text(error: WeChatApiError) -> str:
    """"<errcode or 'network'>: <errmsg>" for the outbox row."""
    code = "network" if error.errcode is None else str(error.errcode)
    return f"{code}: {error.errmsg}"
