"""WeChat official account (公众号) channel: ``addons.channels.wechat.WeChatInput``.

Mounted at ``/webhooks/wechat/webhook`` (GET: URL verification, POST: messages).

WeChat's ``signature`` covers token, timestamp and nonce, not the body: so each signed
query string is accepted for one request (remembered in the channel's store while its
timestamp is accepted). The same request again is WeChat's retry and goes on below;
another body under a used signature is refused like a bad signature.

WeChat waits 5 seconds for the passive reply and retries the same message up to three
times. So every message is claimed once (per sender + MsgId, or sender + CreateTime for
events);
the bot gets ``reply_timeout_s`` (4 s) to answer passively, otherwise the request answers
``success`` and the answer follows through the customer-service message API. A retry
waits for the first delivery's result and returns the same reply (or ``success``).

Settings come from the credentials section, else from ``WECHAT_*`` environment variables,
else defaults (``WeChatConfig``, a pydantic ``BaseSettings``; see ``docs/wechat.md``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseSettings, Extra, Field, validator
from pydantic.env_settings import SettingsSourceCallable
from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    OutputChannel,
    UserMessage,
)
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy.messages import BaseMessage

from addons.channels.rate_limit import (
    MAX_MESSAGE_CHARS,
    RATE_LIMITED_TEXT,
    TOO_LONG_TEXT,
    RateLimiter,
)
from addons.channels.wechat_api import DEFAULT_API_BASE, WeChatApi, WeChatApiError
from addons.channels.wechat_inbound import MODES, Inbound, RejectedRequest, WeChatVerifier
from addons.channels.wechat_media import WeChatMaterials
from addons.channels.wechat_render import (
    MAX_TEXT_BYTES,
    RenderedReply,
    clean_text,
    render_messages,
    split_text,
)
from addons.channels.wechat_store import (
    DEFERRED,
    DONE,
    ChannelState,
    KeyValueStore,
    MemoryStore,
    create_store,
)
from core.local_secrets import local_secret

logger = logging.getLogger(__name__)

# The token of earlier versions' docs: never accepted (anyone could sign with it).
PUBLISHED_TOKENS = {"dev-wechat-token"}
DEFAULT_MENU: dict[str, str] = {
    "CHECK_STATUS": "/check_account_status",
    "CONTACT": "/contact_support",
    "APPEAL": "/ask_appeal_process",
    "REMOTE": "/ask_remote_collection",
    "APPEAL_STATUS": "/check_appeal_status",
    "HUMAN": "/request_human",
}

UNSUPPORTED_TEXT = "暂不支持这种消息，请直接发文字告诉我你遇到的问题。"
EMPTY_TEXT = "没有收到文字内容。请直接发文字说说你遇到的问题，比如“收款被限制了怎么办”。"
VOICE_UNRECOGNIZED_TEXT = "这段语音没能识别成文字，请直接打字告诉我你遇到的问题。"
IMAGE_TEXT = (
    "收到你的图片，已经帮你记下，申诉时可以作为材料。\n"
    "对申诉最有帮助的材料：\n"
    "· 营业执照，门店门头和店内照片；\n"
    "· 真实交易的订单、发货或物流记录、收据；\n"
    "· 和买家的聊天记录；\n"
    "· 进货凭证或服务合同。\n"
    "要提交申诉，直接回复“我要申诉”。"
)
UNKNOWN_MENU_TEXT = "这个菜单暂时没有内容，请直接发文字告诉我你的问题。"
ERROR_TEXT = "系统有点忙，请稍后再发一次。着急的话可以拨打微信支付客服 95017。"
# An agent's message (the console's metadata: ``agent_message_id``, ``agent``) starts with
# who wrote it; joining and leaving are the console's own one-line notices, sent as they are.
AGENT_PREFIX = "【客服{agent}】"
AGENT_PREFIX_NO_NAME = "【人工客服】"


def agent_prefix(metadata: Mapping[str, Any]) -> str:
    """"【客服小王】" for an agent's message, "" for the bot's and for notices."""
    if metadata.get("agent_message_id") is None or metadata.get("handoff_notice"):
        return ""
    name = clean_text(str(metadata.get("agent") or "")).strip()[:40]
    return AGENT_PREFIX.format(agent=name) if name else AGENT_PREFIX_NO_NAME

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
# A used signature is remembered this much longer than its timestamp is accepted (the
# clocks of replicas may differ a little).
SIGNATURE_MARGIN_S = 60.0


# Settings documented without an environment variable (docs/wechat.md): credentials only.
_CREDENTIALS_ONLY: list[str] = []


class WeChatConfig(BaseSettings):
    """The channel's settings: the credentials section, else ``WECHAT_*`` environment
    variables, else these defaults. Empty values count as unset."""

    # Unset: one generated for this machine into var/secrets/wechat_token (0600), which
    # scripts/wechat_send.py reads too; type the real one into WECHAT_TOKEN.
    token: str = ""
    app_id: str = ""
    app_secret: str = ""
    encoding_aes_key: str = Field("", env="WECHAT_AES_KEY")
    # plaintext | compatible | safe; empty: safe when an EncodingAESKey is set.
    mode: str = ""
    api_base: str = DEFAULT_API_BASE
    redis_url: str = ""
    reply_timeout_s: float = 4.0
    max_reply_bytes: int = Field(MAX_TEXT_BYTES, env=_CREDENTIALS_ONLY)
    max_clock_skew_s: float = Field(300.0, env=_CREDENTIALS_ONLY)
    dedup_ttl_s: float = Field(300.0, env=_CREDENTIALS_ONLY)
    api_timeout_s: float = Field(5.0, env=_CREDENTIALS_ONLY)
    # Parts after the passive reply wait this long, so they do not overtake it.
    overflow_delay_s: float = Field(1.0, env=_CREDENTIALS_ONLY)
    # Menu CLICK EventKey → message for the bot; adds to / replaces DEFAULT_MENU.
    menu: dict[str, str] = Field(default_factory=dict, env=_CREDENTIALS_ONLY)

    class Config:
        env_prefix = "WECHAT_"
        anystr_strip_whitespace = True
        extra = Extra.ignore  # from_credentials reports unknown keys

        @classmethod
        def customise_sources(
            cls,
            init_settings: SettingsSourceCallable,
            env_settings: SettingsSourceCallable,
            file_secret_settings: SettingsSourceCallable,
        ) -> tuple[SettingsSourceCallable, ...]:
            def environment(settings: BaseSettings) -> dict[str, Any]:
                # An empty variable counts as unset, like an empty credentials value.
                return {name: value for name, value in env_settings(settings).items()
                        if not (isinstance(value, str) and not value.strip())}

            # Credentials (passed to the constructor) win over the environment.
            return init_settings, environment

    @validator("token", always=True)
    def _own_token(cls, token: str) -> str:
        if not token:
            return local_secret("wechat_token", "WECHAT_TOKEN")
        if token in PUBLISHED_TOKENS:
            raise ValueError("token (WECHAT_TOKEN) is a published example token: choose your own")
        return token

    @validator("mode", always=True)
    def _known_mode(cls, mode: str, values: dict[str, Any]) -> str:
        mode = (mode or ("safe" if values.get("encoding_aes_key") else "plaintext")).lower()
        if mode not in MODES:
            raise ValueError(
                f"mode (WECHAT_MODE) must be one of {', '.join(MODES)}, not {mode!r}"
            )
        return mode

    @validator("reply_timeout_s")
    def _within_wechat_deadline(cls, seconds: float) -> float:
        if not 0 < seconds <= 4.5:
            # WeChat gives up after 5 s: a later passive reply is never shown.
            raise ValueError(
                f"reply_timeout_s (WECHAT_REPLY_TIMEOUT_S) must be above 0 and at most 4.5 "
                f"seconds (WeChat waits 5 s), not {seconds}"
            )
        return seconds

    @validator("menu", always=True)
    def _with_default_menu(cls, menu: dict[str, str]) -> dict[str, str]:
        return {**DEFAULT_MENU, **menu}

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> WeChatConfig:
        """Settings from the ``credentials.yml`` section, the environment and defaults."""
        given = {name: value for name, value in (credentials or {}).items()
                 if value is not None and not (isinstance(value, str) and not value.strip())}
        unknown = sorted(set(given) - set(cls.__fields__))
        if unknown:
            logger.warning("wechat credentials: unknown settings ignored: %s",
                           ", ".join(unknown))
        return cls(**{name: value for name, value in given.items() if name in cls.__fields__})


@dataclass
class WeChatResponse:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


def message_key(message: BaseMessage) -> str:
    """What identifies one push across WeChat's retries."""
    if message.type != "event" and message.id:
        # The sender is part of the key: a push under someone else's MsgId must never
        # get that person's stored reply.
        return f"msg:{message.source}:{message.id}"
    # Events have no MsgId: WeChat's own advice is FromUserName + CreateTime.
    event = getattr(message, "event", "") or str(message._data.get("Event", ""))
    return f"evt:{message.source}:{message.time}:{event}"


class WeChatOutput(OutputChannel):
    """Sends to an OpenID through the customer-service API (agents, proactive messages).

    Errors (45015: the user's 48-hour window is closed; others after one token refresh)
    are raised to the caller.
    """

    def __init__(self, api: WeChatApi, state: ChannelState, max_reply_bytes: int) -> None:
        self.api = api
        self.state = state
        self.max_reply_bytes = max_reply_bytes

    @classmethod
    def name(cls) -> str:
        return "wechat"

    async def send_rendered(self, recipient_id: str, rendered: RenderedReply) -> None:
        for part in split_text(rendered.text, self.max_reply_bytes):
            await self.api.send_text(recipient_id, part)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_rendered(recipient_id,
                                 RenderedReply(clean_text(agent_prefix(kwargs) + text)))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_rendered(recipient_id, render_messages([{
            "text": agent_prefix(kwargs) + text, "buttons": buttons}]))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, f"图片：{image}")

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        # Raw JSON means nothing to a merchant in WeChat.
        logger.info("wechat output: custom payload not sent to %s", recipient_id)


class WeChatInput(InputChannel):
    """WeChat official account webhook built on wechatpy."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeChatInput:
        return cls(WeChatConfig.from_credentials(credentials), with_materials=True)

    def __init__(self, config: WeChatConfig | None = None,
                 store: KeyValueStore | None = None, with_materials: bool = False) -> None:
        self.config = config or WeChatConfig()
        cfg = self.config
        self.verifier = WeChatVerifier(
            cfg.token, cfg.mode, cfg.encoding_aes_key, cfg.app_id, cfg.max_clock_skew_s
        )
        # Namespaced per account, so several accounts can share one Redis.
        account = cfg.app_id or hashlib.sha1(cfg.token.encode()).hexdigest()[:12]
        self.state = ChannelState(
            store or create_store(cfg.redis_url),
            namespace=f"wechat:{account}",
            dedup_ttl_s=cfg.dedup_ttl_s,
        )
        # Used signatures are also kept here: a replay to this replica is refused even
        # while the shared store is down or has lost the key.
        self._local_signatures = ChannelState(MemoryStore(), namespace=f"wechat:{account}")
        self.api = WeChatApi(cfg.app_id, cfg.app_secret, self.state, cfg.api_base,
                             cfg.api_timeout_s)
        self._background: set[asyncio.Task] = set()
        self.rate_limiter = RateLimiter(redis_url=cfg.redis_url)
        if not self.api.configured:
            logger.warning(
                "wechat channel has no AppID/AppSecret: slow or long answers cannot be "
                "delivered through the customer-service API"
            )
        # Images and files of a verified merchant with an open appeal become appeal
        # materials (addons/channels/wechat_media.py; fetching needs the AppID/AppSecret).
        self.materials: WeChatMaterials | None = (
            WeChatMaterials(self.api) if with_materials and self.api.configured else None)

    # --- rasa plumbing ----------------------------------------------------------------
    def get_output_channel(self) -> WeChatOutput:
        return WeChatOutput(self.api, self.state, self.config.max_reply_bytes)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        # Sanic 21.12 blueprint names: letters, digits, "_" and "-" only.
        webhook = Blueprint(f"wechat_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            result = await self.handle_verification(_args(request))
            return response.text(result.body, status=result.status,
                                 content_type=result.content_type)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            result = await self.handle_post(_args(request), request.body or b"",
                                            on_new_message)
            return response.text(result.body, status=result.status,
                                 content_type=result.content_type)

        @webhook.listener("after_server_start")
        async def start_media_retries(*_: Any) -> None:
            # WeChat files kept for a retry (core.db.media_downloads), also after a restart.
            if self.materials is not None:
                self.materials.start()

        @webhook.listener("before_server_stop")
        async def finish_deliveries(*_: Any) -> None:
            await self.drain(timeout_s=10)
            await self.close()

        return webhook

    # --- requests -----------------------------------------------------------------------
    async def handle_verification(self, args: Mapping[str, str | None]) -> WeChatResponse:
        try:
            echostr = self.verifier.verify_url(args)
        except RejectedRequest as rejected:
            logger.warning("wechat URL verification rejected: %s", rejected.reason)
            return WeChatResponse(rejected.status, _status_text(rejected.status))
        if not await self._first_use(args, b"GET\n" + echostr.encode("utf-8")):
            logger.warning("wechat URL verification rejected: signature already used")
            return WeChatResponse(403, _status_text(403))
        return WeChatResponse(200, echostr)

    async def handle_post(
        self, args: Mapping[str, str | None], body: bytes, on_new_message: OnNewMessage
    ) -> WeChatResponse:
        try:
            inbound = self.verifier.parse(args, body)
        except RejectedRequest as rejected:
            logger.warning("wechat request rejected (%s): %s", rejected.status, rejected.reason)
            return WeChatResponse(rejected.status, _status_text(rejected.status))
        if not await self._first_use(args, b"POST\n" + body):
            logger.warning("wechat request rejected (403): signature already used for "
                           "another request")
            return WeChatResponse(403, _status_text(403))
        text = await self._answer_once(inbound, on_new_message)
        try:
            reply, content_type = self.verifier.render_reply(inbound, text)
        except Exception:  # noqa: BLE001 - never fail the request: WeChat would retry
            logger.exception("wechat reply could not be rendered")
            reply, content_type = self.verifier.render_reply(inbound, "")
        return WeChatResponse(200, reply, content_type)

    async def _first_use(self, args: Mapping[str, str | None], request: bytes) -> bool:
        """True for the first request under this (verified) signature and for a resend of
        the same ``request``; False for anything else signed with it."""
        timestamp = str(args.get("timestamp") or "0")
        signed = hashlib.sha256("\n".join(
            (timestamp, str(args.get("nonce") or ""), str(args.get("signature") or ""))
        ).encode("utf-8")).hexdigest()
        fingerprint = hashlib.sha256(request).hexdigest()
        # Accepted while |now - timestamp| <= max_clock_skew_s: remembered that long.
        remaining = int(timestamp) + self.config.max_clock_skew_s - time.time()
        ttl_s = max(remaining, 0.0) + SIGNATURE_MARGIN_S
        try:
            if not await self.state.accept_signed(signed, fingerprint, ttl_s):
                return False
        except Exception:  # noqa: BLE001 - store down: this replica's memory still guards
            logger.exception("wechat signature store unavailable: used signatures are "
                             "remembered on this replica only")
        # Only what the shared store let through is noted here, so a refused replay never
        # stands in the way of WeChat's retry of the real request on this replica.
        return await self._local_signatures.accept_signed(signed, fingerprint, ttl_s)

    # --- exactly once, within the deadline ----------------------------------------------
    async def _answer_once(self, inbound: Inbound, on_new_message: OnNewMessage) -> str:
        """The passive reply text for this push ("" = answer ``success``)."""
        message = inbound.message
        key = message_key(message)
        try:
            first = await self.state.claim_message(key)
        except Exception:  # noqa: BLE001 - store down: answering twice beats not answering
            logger.exception("wechat dedup store unavailable: processing %s unguarded", key)
            first = True
        if not first:
            logger.info("wechat retry of %s: waiting for the first delivery", key)
            return await self._result_of_first(key)

        openid = message.source
        turn = asyncio.ensure_future(self._turn(message, on_new_message))
        try:
            parts = await asyncio.wait_for(asyncio.shield(turn), self.config.reply_timeout_s)
        except asyncio.TimeoutError:
            logger.info("wechat %s slower than %ss: answering later", key,
                        self.config.reply_timeout_s)
            await self._finish(key, DEFERRED)
            self._spawn(self._deliver_when_done(turn, openid))
            return ""
        except asyncio.CancelledError:
            # WeChat hung up: the answer still goes out through the customer-service API.
            self._spawn(self._finish_and_deliver(key, turn, openid))
            raise
        passive = parts[0] if parts else ""
        await self._finish(key, DONE, passive)
        if len(parts) > 1:
            # A passive reply carries one message: the rest follows in order.
            self._spawn(self._deliver(openid, parts[1:], self.config.overflow_delay_s))
        return passive

    async def _result_of_first(self, key: str) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.reply_timeout_s
        while True:
            try:
                result = await self.state.message_result(key)
            except Exception:  # noqa: BLE001
                logger.exception("wechat dedup store unavailable while waiting for %s", key)
                return ""
            if result is None or result.get("state") == DEFERRED:
                return ""
            if result.get("state") == DONE:
                return str(result.get("reply") or "")
            if loop.time() >= deadline:
                return ""
            await asyncio.sleep(0.05)

    async def _finish(self, key: str, state: str, reply: str = "") -> None:
        try:
            await self.state.finish_message(key, state, reply)
        except Exception:  # noqa: BLE001
            logger.exception("wechat dedup store unavailable: result of %s not stored", key)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        # Keep a reference: the event loop only holds tasks weakly.
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Wait for pending customer-service deliveries (tests, shutdown)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout_s)
        if self.materials is not None:
            await self.materials.drain(timeout_s)

    async def close(self) -> None:
        """Close the WeChat API session and the state store (server stop)."""
        if self.materials is not None:
            await self.materials.close()
        await self.api.close()
        await self.state.store.close()

    async def _finish_and_deliver(self, key: str, turn: asyncio.Future, openid: str) -> None:
        await self._finish(key, DEFERRED)
        await self._deliver_when_done(turn, openid)

    async def _deliver_when_done(self, turn: asyncio.Future, openid: str) -> None:
        await self._deliver(openid, await turn)

    async def _deliver(self, openid: str, parts: list[str], delay_s: float = 0.0) -> None:
        if not parts:
            return
        await asyncio.sleep(delay_s)
        if not self.api.configured:
            logger.error("wechat: %d message(s) for %s dropped: no AppID/AppSecret configured",
                         len(parts), openid)
            return
        for index, part in enumerate(parts):
            try:
                await self.api.send_text(openid, part)
            except WeChatApiError as error:
                # Stop here: later parts without the earlier ones would not make sense.
                logger.error("wechat: delivery to %s stopped at part %d/%d: %s",
                             openid, index + 1, len(parts), error)
                return

    # --- one turn -------------------------------------------------------------------------
    async def _turn(self, message: BaseMessage, on_new_message: OnNewMessage) -> list[str]:
        """Everything to send for this push, split to WeChat's length limit."""
        try:
            rendered = await self._respond(message, on_new_message)
        except Exception:  # noqa: BLE001 - the merchant gets an answer whatever broke
            logger.exception("wechat: handling %s failed", message_key(message))
            rendered = RenderedReply(ERROR_TEXT)
        if rendered is None:
            return []
        return split_text(rendered.text, self.config.max_reply_bytes)

    async def _respond(
        self, message: BaseMessage, on_new_message: OnNewMessage
    ) -> RenderedReply | None:
        """The reply to one push; None when nothing should be said."""
        msg_type = str(message._data.get("MsgType") or message.type).lower()
        if message.type == "text":
            return await self._ask_bot(message, message.content or "", on_new_message)
        if message.type == "voice":
            recognition = (message.recognition or "").strip()
            if not recognition:
                return RenderedReply(VOICE_UNRECOGNIZED_TEXT)
            return await self._ask_bot(message, recognition, on_new_message)
        if message.type == "image":
            await self.state.add_media(message.source, {
                "media_id": message.media_id, "pic_url": message.image,
                "msg_id": message.id, "create_time": message.time,
            })
            if self.materials is not None:
                # A verified merchant's open appeal: fetched, checked and kept at once.
                taken = await self.materials.take(message)
                if taken is not None:
                    return RenderedReply(taken)
            return RenderedReply(IMAGE_TEXT)
        if msg_type == "file" and self.materials is not None:
            # A PDF or image sent as a file: the same materials path (or what to do first).
            return RenderedReply(await self.materials.take(message) or UNSUPPORTED_TEXT)
        if msg_type == "event":
            event = str(getattr(message, "event", "") or "").lower()
            if event in ("subscribe", "subscribe_scan"):
                return await self._ask_bot(message, "/greet", on_new_message)
            if event == "click":
                payload = self.config.menu.get(str(message.key or ""))
                if not payload:
                    logger.warning("wechat: no intent for menu key %r", message.key)
                    return RenderedReply(UNKNOWN_MENU_TEXT)
                return await self._ask_bot(message, payload, on_new_message)
            # unsubscribe, view, location reports, job notifications: nothing to say.
            return None
        return RenderedReply(UNSUPPORTED_TEXT)

    async def _ask_bot(
        self,
        message: BaseMessage,
        text: str,
        on_new_message: OnNewMessage,
    ) -> RenderedReply | None:
        text = clean_text(text).strip()
        if not text:
            return RenderedReply(EMPTY_TEXT)
        openid = message.source
        if len(text) > MAX_MESSAGE_CHARS:
            return RenderedReply(TOO_LONG_TEXT.format(max=MAX_MESSAGE_CHARS))
        if not await self.rate_limiter.allow(self.name(), openid):
            return RenderedReply(RATE_LIMITED_TEXT)
        meta: dict[str, Any] = {
            "openid": openid,
            "msg_type": str(message._data.get("MsgType") or message.type),
            "msg_id": message.id or None,
            "create_time": message.time,
        }
        try:
            media = await self.state.media(openid)
        except Exception:  # noqa: BLE001 - the answer matters more than the attachments
            logger.exception("wechat: images sent earlier by %s unavailable", openid)
            media = []
        if media:
            # Images sent earlier: appeal features can pick them up from the tracker.
            meta["media_ids"] = [item["media_id"] for item in media if item.get("media_id")]
        # A typed "2" or button title is read against the turn's numbered choices by
        # addons.typed_choices, from the conversation itself (it adds ``choice`` here).
        collector = CollectingOutputChannel()
        await on_new_message(UserMessage(
            text, collector, openid, input_channel=self.name(), metadata={"wechat": meta},
        ))
        if not collector.messages:
            # e.g. a conversation handed to an agent: the agent answers, not us.
            return None
        return render_messages(collector.messages)


def _args(request: Request) -> dict[str, str | None]:
    return {name: request.args.get(name) for name in request.args}


def _status_text(status: int) -> str:
    return {400: "bad request", 403: "forbidden", 413: "too large"}.get(status, "error")
