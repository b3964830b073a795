"""Website chat widget channel: ``addons.channels.widget.WidgetInput`` (name ``widget``).

Rasa 3.6's socket.io channel, subclassed where it falls short:

- ``enter_room`` is awaited when it is a coroutine (python-socketio 5.10 and newer, 5.16.3
  pinned today) and called plainly when it is not (5.9 and older). Rasa 3.6 never awaits
  it, so with a newer python-socketio its replies would silently go nowhere.
- Session persistence is always on: the sender id is the widget session, not the socket,
  so a reload, a second tab or a reconnect continue the same conversation.
- An optional Redis client manager (``WIDGET_REDIS_URL``): an emit on one replica reaches
  a browser connected to another (agents' messages, proactive messages).
- An optional replica name (``WIDGET_NODE_ID``): every engine.io session id this
  replica issues starts with ``<node>.``, so a load balancer can send the later polls
  and the WebSocket upgrade of a connection back to it (deploy/nginx/).
- Allowed origins are checked (same origin only unless configured; never ``*`` by
  default).

Sessions: the browser keeps a random secret in local storage; the session id (the rasa
sender id) is a hash of that secret. Holding the secret proves the session; a guessed
session id is worth nothing without it, and the server stores no secrets at all.

A visitor waiting for a person who closes the page (the session's last socket on this
replica goes away) is marked as left in the handoff queue, and the mark goes when the
same session connects again (``QueueVisitors``); the agent console lets the waiting
handoff go after a grace period (console/live.py). Another tab of the session on
another replica is not seen: its next connection removes the mark.

Each merchant message carries a client message id. A message id already recorded in
the session's tracker (or being processed right now, on any replica when Redis is
configured) is acknowledged but not processed again, so a resend after a dropped
connection never reaches the bot twice.

The Rasa (and python-socketio, Sanic-Cors) internals it relies on are reached through
addons/rasa_compat.py and checked there when the channel starts.

A message may carry ``display``: the title of the button the merchant clicked, which
the merchant's other tabs, the widget history and the agents show instead of its
payload. It is kept only when the bot's messages since the merchant's previous message
offered a button with exactly that title and the message as its payload; anything else
a client puts there is dropped (agents see only what the bot processed).

Routes (mounted at ``/widget``): ``widget.js`` (the bundle), ``demo.html`` (help-centre
demo page), ``POST transcript`` (this session's messages, for the secret's holder only),
``/`` (health). Socket.io is served at ``/socket.io`` (``socketio_path``).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import rasa.core.channels.channel
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from rasa.shared.core.events import BotUttered, Restarted, SessionStarted, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncManager, AsyncRedisManager, AsyncServer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from addons import rasa_compat
from addons.channels.rate_limit import RateLimiter
from addons.channels.wechat_store import KeyValueStore, create_store
from core.choices import button_choice, message_buttons
from core.db import handoffs
from core.db.session import get_engine
from core.materials.settings import MaterialsSettings

logger = logging.getLogger(__name__)

CHANNEL_NAME = "widget"
WIDGET_DIR = Path(__file__).resolve().parents[2] / "widget"
BUNDLE = WIDGET_DIR / "dist" / "widget.js"
DEMO_PAGE = WIDGET_DIR / "demo.html"

NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
SECRET = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

DEFAULT_WELCOME = (
    "你好，我是收款账户助手。收款被限制、风控、冻结都可以问我，"
    "也可以直接点下面的问题。"
)
DEFAULT_TOPICS: list[dict[str, str]] = [
    {"title": "收款被限制了怎么办", "payload": "我的收款码被限制了怎么办"},
    {"title": "查我的账户状态", "payload": "/check_account_status"},
    {"title": "怎么申诉", "payload": "/ask_appeal_process"},
    {"title": "异地收款怎么办", "payload": "/ask_remote_collection"},
    {"title": "客服电话", "payload": "/contact_support"},
]
# The agent console's notices (console/delivery.py): the widget shows them as system lines
# and knows from them who answers now. Conversations from before the agent's name was in
# the notice's metadata: the name is read from the text.
AGENT_NOTICES = {"claimed", "transferred"}
CLOSED_NOTICE = "closed"
_NAME_IN_NOTICE = {
    "claimed": re.compile(r"客服(.{1,40}?)已接入"),
    "transferred": re.compile(r"转接给客服(.{1,40}?)[，,。！\s]"),
}
# A close the console made without a leave notice (it could not be sent, or it predates
# the notice): the same words, from the system event Rasa stored.
CLOSED_LINE = "客服{agent}已结束会话，之后由智能助手回复。"
CLOSED_LINE_NO_NAME = "人工客服已结束会话，之后由智能助手回复。"
# Rasa 3.6: rasa.shared.constants.EXTERNAL_MESSAGE_PREFIX (trigger_intent's user event).
EXTERNAL_PREFIX = "EXTERNAL: "
ERROR_TEXT = "系统有点忙，这条消息没有处理成功，请点“重试”再发一次。着急的话可以拨打微信支付客服 95017。"

# Credentials key → environment variable (a non-empty credentials value wins).
ENV_VARS: dict[str, str] = {
    "allowed_origins": "WIDGET_ALLOWED_ORIGINS",
    "redis_url": "WIDGET_REDIS_URL",
    "welcome": "WIDGET_WELCOME",
    "max_message_chars": "WIDGET_MAX_MESSAGE_CHARS",
    "node_id": "WIDGET_NODE_ID",
}

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def session_id_for(secret: str) -> str:
    """The session id (rasa sender id) that belongs to a widget secret."""
    return hashlib.sha256(f"widget-session:{secret}".encode()).hexdigest()[:32]


def _origins(value: Any) -> list[str]:
    if isinstance(value, str):
        items = value.replace(";", ",").split(",")
    else:
        items = [str(v) for v in (value or [])]
    origins = []
    for item in (i.strip().rstrip("/") for i in items):
        if not item:
            continue
        if item == "*":
            raise ValueError("allowed_origins: list the websites, '*' is not accepted")
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise ValueError(f"allowed_origins: {item!r} is not an origin like https://shop.example")
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return origins


@dataclass
class WidgetConfig:
    # Empty: only pages served by the rasa server itself (the demo page) may connect.
    allowed_origins: list[str] = field(default_factory=list)
    redis_url: str = ""
    # This replica's name in engine.io session ids ("" = plain ids).
    node_id: str = ""
    welcome: str = DEFAULT_WELCOME
    topics: list[dict[str, str]] = field(default_factory=lambda: list(DEFAULT_TOPICS))
    max_message_chars: int = 500
    socketio_path: str = "/socket.io"
    user_message_evt: str = "user_uttered"
    bot_message_evt: str = "bot_uttered"
    namespace: str | None = None
    jwt_key: str | None = None
    jwt_method: str = "HS256"
    # How long a message id stays claimed while it is being processed.
    claim_ttl_s: float = 120.0
    # How many messages the transcript returns at most (the latest ones).
    transcript_limit: int = 300

    def __post_init__(self) -> None:
        self.allowed_origins = _origins(self.allowed_origins)
        self.topics = [
            {"title": str(t["title"]), "payload": str(t["payload"])}
            for t in (self.topics or []) if isinstance(t, Mapping) and t.get("title")
            and t.get("payload")
        ]
        self.node_id = str(self.node_id or "")
        if self.node_id and not NODE_ID.match(self.node_id):
            raise ValueError("node_id: letters, digits, '_' and '-' only, at most 32")
        self.max_message_chars = int(self.max_message_chars)
        if not 1 <= self.max_message_chars <= 5000:
            raise ValueError("max_message_chars must be between 1 and 5000")

    @classmethod
    def from_credentials(
        cls, credentials: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
    ) -> WidgetConfig:
        credentials = dict(credentials or {})
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            value = credentials.get(name)
            if (value is None or value == "") and name in ENV_VARS:
                value = env.get(ENV_VARS[name]) or None
            if value is not None and value != "":
                values[name] = value
        if credentials.get("session_persistence") is False:
            logger.warning("widget channel: session_persistence is always on, setting ignored")
        for name in ("claim_ttl_s",):
            if name in values:
                values[name] = float(values[name])
        for name in ("transcript_limit", "max_message_chars"):
            if name in values:
                values[name] = int(values[name])
        return cls(**values)

    def public(self) -> dict[str, Any]:
        """What the browser needs to know."""
        return {"welcome": self.welcome, "topics": self.topics,
                "max_message_chars": self.max_message_chars,
                # The upload limit the server enforces, so the widget refuses at once.
                "max_file_bytes": MaterialsSettings().max_file_bytes}


def create_client_manager(redis_url: str) -> AsyncManager | None:
    """A Redis client manager shared by every replica, or None (in-process)."""
    if not redis_url:
        return None
    return AsyncRedisManager(redis_url)


class WidgetServer(AsyncServer):
    """python-socketio's server whose engine.io session ids start with ``node_id.``."""

    def __init__(self, node_id: str = "", **kwargs: Any) -> None:
        self.node_id = node_id
        super().__init__(**kwargs)

    def _engineio_server_class(self) -> type:
        base = super()._engineio_server_class()
        if not self.node_id:
            return base
        # A private hook of python-socketio: refuses to start if it changed.
        rasa_compat.check_engineio_session_ids(base)
        prefix = f"{self.node_id}."

        class NodeEngineIOServer(base):  # type: ignore[misc, valid-type]
            def generate_id(self) -> str:
                return prefix + super().generate_id()

        return NodeEngineIOServer


async def enter_room(sio: Any, sid: str, room: str, namespace: str | None = None) -> None:
    """``sio.enter_room`` for every python-socketio 5.x: a coroutine from 5.10 on."""
    result = sio.enter_room(sid, room, namespace=namespace)
    if inspect.isawaitable(result):
        await result


class WidgetOutput(SocketIOOutput):
    """Sends each bot message whole (line breaks kept) with its tracker timestamp.

    The timestamp lets the widget recognise a message it already has from the
    transcript; messages go to the session's room, so every tab of the session gets them.
    """

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    async def _send(self, recipient_id: str, message: dict[str, Any], **kwargs: Any) -> None:
        timestamp = kwargs.get("timestamp")
        if isinstance(timestamp, int | float):
            message["ts"] = float(timestamp)
        # A person's message or a notice (the console's metadata): who it comes from.
        message.update(speaker(kwargs, str(message.get("text") or "")))
        await self.sio.emit(self.bot_message_evt, message, room=recipient_id)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._send(recipient_id, {"text": text.strip()}, **kwargs)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self._send(recipient_id, {"text": text.strip(), "buttons": _buttons(buttons)},
                         **kwargs)

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        # Shown as a link: the widget renders text only.
        await self._send(recipient_id, {"text": str(image)}, **kwargs)

    async def send_attachment(  # type: ignore[override]
        self, recipient_id: str, attachment: Any, **kwargs: Any
    ) -> None:
        logger.info("widget output: attachment not shown to %s", recipient_id)

    async def send_elements(self, recipient_id: str, elements: Any, **kwargs: Any) -> None:
        logger.info("widget output: elements not shown to %s", recipient_id)

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        logger.info("widget output: custom payload not shown to %s", recipient_id)


def _agent_name(metadata: Mapping[str, Any]) -> str:
    return str(metadata.get("agent") or "").strip()[:40]


def _notice_agent(kind: str, metadata: Mapping[str, Any], text: str) -> str:
    name = _agent_name(metadata)
    if not name and kind in _NAME_IN_NOTICE:
        found = _NAME_IN_NOTICE[kind].search(text or "")
        name = found.group(1) if found else ""
    return name


def speaker(metadata: Mapping[str, Any], text: str = "") -> dict[str, Any]:
    """How the widget shows a bot event by its metadata: ``{"type": "agent", "agent"}``
    for an agent's reply, ``{"type": "system", "notice", "agent"?}`` for a notice,
    ``{}`` for the bot's own message."""
    if metadata.get("handoff_notice"):
        kind = str(metadata["handoff_notice"])
        name = _notice_agent(kind, metadata, text)
        return {"type": "system", "notice": kind, **({"agent": name} if name else {})}
    if metadata.get("agent_message_id") is not None:
        return {"type": "agent", "agent": _agent_name(metadata)}
    return {}


def _closes_handoff(text: str) -> bool:
    """A user event that is the console's close (trigger_intent's EXTERNAL event, or
    the same intent as a bare payload)."""
    if text.startswith(EXTERNAL_PREFIX):
        return text[len(EXTERNAL_PREFIX):].strip() == "handoff_closed"
    return text.startswith("/") and text[1:].split("{", 1)[0].strip() == "handoff_closed"


def answering_agent(events: Any) -> str | None:
    """The name of the agent holding the conversation after ``events`` (None: the bot)."""
    agent: str | None = None
    for event in events:
        if isinstance(event, BotUttered):
            shown = speaker(event.metadata or {}, event.text or "")
            if shown.get("notice") == CLOSED_NOTICE:
                agent = None
            elif shown.get("notice") in AGENT_NOTICES or shown.get("type") == "agent":
                agent = shown.get("agent") or agent or ""
        elif isinstance(event, UserUttered) and _closes_handoff(event.text or ""):
            agent = None
    return agent


def _buttons(buttons: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    return [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in buttons or [] if isinstance(b, Mapping) and b.get("title")]


class WidgetSocketBlueprint(SocketBlueprint):
    """Rasa's socket.io blueprint, leaving CORS of the socket.io path to engine.io.

    engine.io answers allowed origins itself; ``rasa run --cors`` would add a second
    Access-Control-Allow-Origin header to the same responses, and browsers refuse a
    response with two. Requests to the socket.io path are marked as answered for
    rasa's CORS middleware.
    """

    def __init__(self, sio: AsyncServer, socketio_path: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(sio, socketio_path, *args, **kwargs)
        # Our own copy: Rasa's ctx.socketio_path is its private detail.
        self.ctx.widget_socketio_path = "/" + str(socketio_path).strip("/")

    def register(self, app: Any, options: Any) -> None:
        path = self.ctx.widget_socketio_path

        async def engineio_answers_cors(request: Request) -> None:
            if request.path == path or request.path.startswith(path + "/"):
                rasa_compat.mark_cors_answered(request)

        app.register_middleware(engineio_answers_cors, "request")
        super().register(app, options)


class _SessionLocks:
    """One asyncio lock per session, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def acquire(self, key: str) -> None:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:  # cancelled while waiting: no longer a user
            self._forget(key)
            raise

    def release(self, key: str) -> None:
        self._locks[key][0].release()
        self._forget(key)

    def _forget(self, key: str) -> None:
        lock, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)


class QueueVisitors:
    """Tells the handoff queue (the merchant database, ``core.db.handoffs``) that a
    waiting visitor left or is back; a database that cannot be reached is logged and
    never breaks the socket."""

    def __init__(self, db_url: str | None = None) -> None:
        self.db_url = db_url  # None: MERCHANT_DB_URL, as the action server

    async def left(self, session_id: str) -> None:
        await self._change(handoffs.mark_left, session_id)

    async def back(self, session_id: str) -> None:
        await self._change(handoffs.mark_back, session_id)

    async def _change(self, change: Callable[[Session, str, str], bool],
                      session_id: str) -> None:
        def work() -> None:
            with Session(get_engine(self.db_url)) as session, session.begin():
                change(session, CHANNEL_NAME, session_id)

        try:
            await asyncio.to_thread(work)
        except SQLAlchemyError as error:
            logger.error("widget: the queue was not told (%s): %s", type(error).__name__,
                         change.__name__)


class WidgetInput(SocketIOInput):
    """The website chat widget's socket.io channel (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(WidgetConfig.from_credentials(credentials), visitors=QueueVisitors())

    def __init__(self, config: WidgetConfig | None = None,
                 claims: KeyValueStore | None = None,
                 visitors: QueueVisitors | None = None) -> None:
        self.config = config or WidgetConfig()
        cfg = self.config
        super().__init__(
            user_message_evt=cfg.user_message_evt,
            bot_message_evt=cfg.bot_message_evt,
            namespace=cfg.namespace,
            session_persistence=True,
            socketio_path=cfg.socketio_path,
            jwt_key=cfg.jwt_key,
            jwt_method=cfg.jwt_method,
        )
        # Message ids being processed right now (shared through Redis when configured).
        self.claims = claims or create_store(cfg.redis_url)
        self.rate_limiter = RateLimiter(redis_url=cfg.redis_url)
        self._locks = _SessionLocks()
        # Who left and who is back, per session in order (None: not recorded).
        self.visitors = visitors
        self._presence_locks = _SessionLocks()
        self._background: set[asyncio.Task] = set()
        self._app: Any = None

    def url_prefix(self) -> str:
        # Absolute: the routes live at /widget/..., not /webhooks/widget/...
        return "/widget"

    # --- socket.io server ---------------------------------------------------------------
    def create_server(self) -> AsyncServer:
        manager = create_client_manager(self.config.redis_url)
        # None: engine.io accepts the server's own origin only (the demo page).
        origins = self.config.allowed_origins or None
        # A silent network drop is noticed within ping_interval + ping_timeout (20 s).
        server = WidgetServer(node_id=self.config.node_id, async_mode="sanic",
                              cors_allowed_origins=origins, client_manager=manager,
                              ping_interval=10, ping_timeout=10)
        logger.info("widget channel: origins %s, client manager %s, node %s",
                    origins or "same origin only", type(server.manager).__name__,
                    self.config.node_id or "-")
        return server

    def get_output_channel(self) -> WidgetOutput | None:  # type: ignore[override]
        if self.sio is None:
            logger.warning("widget output channel requested before the server started")
            return None
        return WidgetOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        # The Rasa internals this channel relies on (addons/rasa_compat.py), at start.
        rasa_compat.check(rasa_compat.AGENT_ON_APP)
        rasa_compat.check(rasa_compat.SANIC_CORS_FLAG)
        sio = self.create_server()
        self.sio = sio
        # Sanic 21.12 blueprint names: letters, digits, "_" and "-" only.
        bp = WidgetSocketBlueprint(sio, self.socketio_path,
                                   f"widget_{type(self).__name__}", __name__)
        namespace = self.namespace

        @bp.listener("before_server_start")
        async def remember_app(app: Any, _: Any) -> None:
            self._app = app

        @bp.listener("before_server_stop")
        async def finish_turns(*_: Any) -> None:
            if self._background:
                await asyncio.wait(set(self._background), timeout=10)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/widget.js", methods=["GET"])
        async def bundle(_: Request) -> HTTPResponse:
            if not BUNDLE.exists():
                return response.text("widget bundle not built: run `make setup`", status=404)
            return await response.file(
                str(BUNDLE), mime_type="text/javascript; charset=utf-8",
                headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

        @bp.route("/demo.html", methods=["GET"])
        async def demo(_: Request) -> HTTPResponse:
            return await response.file(
                str(DEMO_PAGE), mime_type="text/html; charset=utf-8",
                headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

        @bp.route("/transcript", methods=["POST", "OPTIONS"])
        async def transcript(request: Request) -> HTTPResponse:
            headers = self._cors_headers(request)
            if request.method == "OPTIONS":
                return response.empty(headers={
                    **headers, "Access-Control-Allow-Methods": "POST",
                    "Access-Control-Allow-Headers": "Content-Type",
                    "Access-Control-Max-Age": "600"})
            status, body = await self.transcript_for(request.body or b"", request.app)
            return response.json(body, status=status, headers=headers)

        from addons.channels.widget_materials import add_material_routes  # the upload
        add_material_routes(bp, self)

        @sio.on("connect", namespace=namespace)
        async def connect(sid: str, environ: dict, auth: dict | None = None) -> bool:
            return self.accept_connection(sid, auth)

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            await self.handle_session_request(sid, data)

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: str, reason: Any = None) -> None:
            await self.handle_disconnect(sid)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def user_message(sid: str, data: Any = None) -> dict[str, Any]:
            return await self.handle_user_message(sid, data, on_new_message)

        return bp

    # --- handlers (methods, so tests can drive them without a network) -------------------
    def accept_connection(self, sid: str, auth: dict | None) -> bool:
        if not self.jwt_key:
            return True
        token = auth.get("token") if isinstance(auth, dict) else None
        payload = None
        if token:
            payload = rasa.core.channels.channel.decode_bearer_token(
                token, self.jwt_key, self.jwt_algorithm)
        return bool(payload)

    async def handle_session_request(self, sid: str, data: Any) -> str | None:
        """Joins the socket to the room of the session its secret proves; None if refused."""
        sio = self._server()
        data = data if isinstance(data, dict) else {}
        secret = data.get("secret")
        if not isinstance(secret, str) or not SECRET.match(secret):
            await sio.emit("session_rejected", {"reason": "invalid_secret"}, room=sid,
                           namespace=self.namespace)
            return None
        session_id = session_id_for(secret)
        claimed = data.get("session_id")
        if claimed and claimed != session_id:
            # A stored id that does not belong to the secret: start over cleanly.
            await sio.emit("session_rejected", {"reason": "session_mismatch"}, room=sid,
                           namespace=self.namespace)
            return None
        await enter_room(sio, sid, session_id, namespace=self.namespace)
        await sio.save_session(sid, {"session_id": session_id}, namespace=self.namespace)
        await sio.emit("widget_config", self.config.public(), room=sid,
                       namespace=self.namespace)
        await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
        logger.debug("widget: socket %s joined session %s", sid, session_id)
        if self.visitors is not None:
            # Back (a reload, a reconnect): a "left" mark of the queue goes. After the
            # join, under the session's lock: a disconnect handled later sees this socket.
            await self._presence_locks.acquire(session_id)
            try:
                await self.visitors.back(session_id)
            finally:
                self._presence_locks.release(session_id)
        return session_id

    async def handle_disconnect(self, sid: str) -> None:
        """The session's last socket here went away: a visitor waiting for a person is
        marked as left (the console lets go after a grace period)."""
        if self.visitors is None:
            return
        sio = self._server()
        session_id = (await sio.get_session(sid, namespace=self.namespace) or {}).get(
            "session_id")
        if not session_id:
            return
        await self._presence_locks.acquire(session_id)
        try:
            others = [other for other, _ in sio.manager.get_participants(
                self.namespace or "/", session_id) if other != sid]
            if not others:
                await self.visitors.left(session_id)
        finally:
            self._presence_locks.release(session_id)

    async def handle_user_message(
        self, sid: str, data: Any, on_new_message: OnNewMessage
    ) -> dict[str, Any]:
        """The acknowledgement for one merchant message; the turn runs in the background.

        ``ok``: accepted; ``duplicate``: already processed or being processed (not again);
        ``error`` with a reason: refused (no session, bad id, empty, too long, too fast).
        """
        sio = self._server()
        session = await sio.get_session(sid, namespace=self.namespace) or {}
        session_id = session.get("session_id")
        if not session_id:
            return {"status": "error", "reason": "no_session"}
        data = data if isinstance(data, dict) else {}
        message_id = data.get("message_id")
        if not isinstance(message_id, str) or not MESSAGE_ID.match(message_id):
            return {"status": "error", "reason": "bad_message_id"}
        text = data.get("message")
        text = text.strip() if isinstance(text, str) else ""
        if not text:
            return {"status": "error", "reason": "empty"}
        if len(text) > self.config.max_message_chars:
            return {"status": "error", "reason": "too_long",
                    "max": self.config.max_message_chars}
        if not await self.rate_limiter.allow(self.name(), session_id):
            return {"status": "error", "reason": "rate_limited"}
        display = data.get("display")
        display = display.strip()[:200] if isinstance(display, str) else ""
        if display and display != text:
            display = await self._offered_title(session_id, text, display)
        else:
            display = ""

        claim_key = f"widget:claim:{session_id}:{message_id}"
        try:
            first = await self.claims.claim(claim_key, "1", self.config.claim_ttl_s)
        except Exception:  # noqa: BLE001 - store down: the tracker check still guards
            logger.exception("widget claim store unavailable: %s unguarded", claim_key)
            first = True
        if not first:
            return {"status": "duplicate"}
        try:
            processed = await self.already_processed(session_id, message_id)
        except Exception:  # noqa: BLE001
            logger.exception("widget: tracker unavailable for the duplicate check")
            processed = False
        if processed:
            await self._release(claim_key)
            return {"status": "duplicate"}

        # Other tabs of the session show the merchant's message too.
        echo = {"message_id": message_id, "text": display or text}
        await sio.emit("user_echo", echo, room=session_id, skip_sid=sid,
                       namespace=self.namespace)
        metadata = {"widget": {"message_id": message_id, **({"display": display}
                                                          if display else {})}}
        message = UserMessage(text, WidgetOutput(sio, self.bot_message_evt), session_id,
                              input_channel=self.name(), metadata=metadata)
        self._spawn(self._turn(session_id, message_id, claim_key, message, on_new_message))
        return {"status": "ok"}

    async def _turn(self, session_id: str, message_id: str, claim_key: str,
                    message: UserMessage, on_new_message: OnNewMessage) -> None:
        sio = self._server()
        await self._locks.acquire(session_id)
        try:
            await on_new_message(message)
            await sio.emit("message_processed", {"message_id": message_id}, room=session_id,
                           namespace=self.namespace)
        except Exception:  # noqa: BLE001 - the merchant hears that it failed
            logger.exception("widget: turn for %s/%s failed", session_id, message_id)
            await sio.emit("message_failed", {"message_id": message_id, "text": ERROR_TEXT},
                           room=session_id, namespace=self.namespace)
        finally:
            self._locks.release(session_id)
            await self._release(claim_key)

    async def _release(self, claim_key: str) -> None:
        try:
            await self.claims.delete(claim_key)
        except Exception:  # noqa: BLE001 - it expires by itself
            logger.exception("widget: claim %s not released", claim_key)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        # The event loop only holds tasks weakly.
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _server(self) -> AsyncServer:
        if self.sio is None:
            raise RuntimeError("widget channel: blueprint() has not created the server yet")
        return self.sio

    # --- tracker look-ups ----------------------------------------------------------------
    def _tracker_store(self, app: Any = None) -> Any:
        return rasa_compat.agent_tracker_store(app or self._app)

    async def _tracker(self, session_id: str, app: Any = None) -> Any:
        store = self._tracker_store(app)
        if store is None:
            return None
        if hasattr(store, "retrieve_full_tracker"):
            return await store.retrieve_full_tracker(session_id)
        return await store.retrieve(session_id)

    async def _offered_title(self, session_id: str, payload: str, title: str) -> str:
        """``title`` when a button the bot offered since the merchant's previous message
        has exactly that title and ``payload``; else "" (the payload is shown)."""
        try:
            tracker = await self._tracker(session_id)
        except Exception:  # noqa: BLE001 - without the conversation, no display text
            logger.exception("widget: tracker unavailable for the display check")
            return ""
        offered = offered_buttons(tracker.events if tracker else [])
        return title if (title, payload) in offered else ""

    async def already_processed(self, session_id: str, message_id: str) -> bool:
        tracker = await self._tracker(session_id)
        if tracker is None:
            return False
        return any(
            isinstance(event, UserUttered)
            and ((event.metadata or {}).get("widget") or {}).get("message_id") == message_id
            for event in reversed(tracker.events)
        )

    async def transcript_for(self, body: bytes, app: Any) -> tuple[int, dict[str, Any]]:
        """(status, body) of a transcript request: only the secret's holder gets data."""
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return 400, {"error": "bad_request"}
        if not isinstance(request, dict):
            return 400, {"error": "bad_request"}
        secret, session_id = request.get("secret"), request.get("session_id")
        if not isinstance(secret, str) or not SECRET.match(secret) \
                or not isinstance(session_id, str) or not SESSION_ID.match(session_id):
            return 400, {"error": "bad_request"}
        if session_id_for(secret) != session_id:
            return 403, {"error": "forbidden"}
        tracker = await self._tracker(session_id, app)
        events = list(tracker.events) if tracker else []
        messages = transcript_messages(events, self.config.topics)
        return 200, {"session_id": session_id,
                     "messages": messages[-self.config.transcript_limit:],
                     "agent": answering_agent(events)}

    def _cors_headers(self, request: Request) -> dict[str, str]:
        origin = request.headers.get("origin", "")
        if origin and origin in self.config.allowed_origins:
            # `rasa run --cors` would add its own Access-Control-Allow-Origin as a second
            # header, which browsers reject: tell its middleware this one is answered.
            rasa_compat.mark_cors_answered(request)
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {}


def offered_buttons(events: Any) -> set[tuple[str, str]]:
    """(title, payload) of the buttons of the bot's messages since the merchant's latest
    message: what the widget still lets them click."""
    offered: set[tuple[str, str]] = set()
    for event in reversed(list(events)):
        if isinstance(event, (UserUttered, SessionStarted, Restarted)):
            break
        if isinstance(event, BotUttered):
            for button in message_buttons(event.data or {}):
                choice = button_choice(button)
                if choice is not None:
                    offered.add(choice)
    return offered


def transcript_messages(events: Any, topics: Any = ()) -> list[dict[str, Any]]:
    """The messages of a tracker as the widget shows them: the merchant's (``user``), the
    bot's (``bot``), an agent's (``agent``, with the name) and system lines (``system``:
    an agent joined, was replaced, left).

    A user event the merchant did not type is never a ``user`` line: the console's
    close (``EXTERNAL: handoff_closed``) is the leave line, unless the console's leave
    notice said it already; other external events and bare payloads are left out, but
    for a welcome topic of ``topics`` (the server's own quick replies), whose title is
    what the merchant clicked."""
    titles = {str(t["payload"]): str(t["title"]) for t in topics or ()}
    messages: list[dict[str, Any]] = []
    agent: str | None = None  # who holds the conversation, as far as the events tell
    left_said = False  # a leave line since the last join
    for event in events:
        if isinstance(event, UserUttered) and event.text is not None:
            widget = (event.metadata or {}).get("widget") or {}
            text = widget.get("display") or event.text
            if not widget.get("display") and _closes_handoff(text):
                if not left_said:
                    messages.append({"type": "system", "notice": CLOSED_NOTICE,
                                     "text": CLOSED_LINE.format(agent=agent) if agent
                                     else CLOSED_LINE_NO_NAME, "ts": event.timestamp,
                                     **({"agent": agent} if agent else {})})
                agent, left_said = None, True
                continue
            if not widget.get("display") and (text.startswith(EXTERNAL_PREFIX)
                                              or text.startswith("/")):
                if text not in titles:
                    continue  # not the merchant's line
                text = titles[text]
            item: dict[str, Any] = {"type": "user", "text": text, "ts": event.timestamp}
            if widget.get("message_id"):
                item["message_id"] = widget["message_id"]
            messages.append(item)
        elif isinstance(event, BotUttered) and (event.text or (event.data or {}).get("buttons")):
            text = (event.text or "").strip()
            shown = speaker(event.metadata or {}, text)
            item = {"type": "bot", "text": text, "ts": event.timestamp, **shown}
            if shown.get("notice") == CLOSED_NOTICE:
                agent, left_said = None, True
            elif shown.get("notice") in AGENT_NOTICES or shown.get("type") == "agent":
                agent, left_said = shown.get("agent") or agent, False
            buttons = _buttons((event.data or {}).get("buttons")
                               or (event.data or {}).get("quick_replies"))
            if buttons:
                item["buttons"] = buttons
            messages.append(item)
    return messages
