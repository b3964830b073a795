"""The widget channel without a browser: room joins, Redis wiring, dedup, transcript."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from socketio import AsyncManager, AsyncRedisManager, AsyncServer

from addons.channels.wechat_store import MemoryStore, RedisStore
from addons.channels.widget import (
    WidgetConfig,
    WidgetInput,
    enter_room,
    session_id_for,
    transcript_messages,
)

SECRET = "s3cr3t-" + "a" * 40
REDIS_URL = os.environ.get("WIDGET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class RecordingServer(AsyncServer):
    """A real python-socketio server without a network: packets are recorded."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(async_mode="asgi", **kwargs)
        self.delivered: list[tuple[str, Any]] = []
        self.sessions: dict[str, dict[str, Any]] = {}

    async def _send_eio_packet(self, eio_sid: str, eio_pkt: Any) -> None:
        self.delivered.append((eio_sid, eio_pkt.data))

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        return self.sessions.get(sid, {})

    async def save_session(self, sid: str, session: dict[str, Any],
                           namespace: str | None = None) -> None:
        self.sessions[sid] = session

    async def connect_client(self, eio_sid: str) -> str:
        """A client connected to the default namespace; its socket id (the manager's
        connect is a coroutine since python-socketio 5.10)."""
        result = self.manager.connect(eio_sid, "/")
        return await result if inspect.isawaitable(result) else result

    def events_to(self, eio_sid: str) -> list[tuple[str, Any]]:
        """(event, data) of every packet delivered to one client."""
        events = []
        for target, data in self.delivered:
            if target == eio_sid:
                payload = json.loads(data[data.index("["):])
                events.append((payload[0], payload[1] if len(payload) > 1 else None))
        return events


class CoroutineJoinServer(RecordingServer):
    """``enter_room`` as python-socketio 5.10 and newer define it: a coroutine."""

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        await asyncio.sleep(0)
        result = super().enter_room(sid, room, namespace=namespace)
        if inspect.isawaitable(result):
            await result


class FakeApp:
    def __init__(self) -> None:
        self.ctx = SimpleNamespace(agent=SimpleNamespace(
            tracker_store=InMemoryTrackerStore(Domain.empty())))

    @property
    def store(self) -> InMemoryTrackerStore:
        return self.ctx.agent.tracker_store


def make_channel(server: RecordingServer, app: FakeApp | None = None,
                 **config: Any) -> WidgetInput:
    channel = WidgetInput(WidgetConfig(**config), claims=MemoryStore())
    channel.create_server = lambda: server  # type: ignore[method-assign]
    channel._app = app
    return channel


async def _ignore(_: UserMessage) -> None:
    return None


@pytest.mark.parametrize("server_class", [RecordingServer, CoroutineJoinServer])
async def test_session_request_joins_the_room_with_either_enter_room(
    server_class: type[RecordingServer],
) -> None:
    server = server_class()
    channel = make_channel(server)
    channel.blueprint(_ignore)
    sid = await server.connect_client("eio-1")

    session_id = await channel.handle_session_request(sid, {"secret": SECRET})

    assert session_id == session_id_for(SECRET)
    assert session_id in server.manager.get_rooms(sid, "/")
    # An emit to the session (how every bot, agent or pushed message travels) arrives.
    await server.emit("bot_uttered", {"text": "你好"}, room=session_id)
    events = server.events_to("eio-1")
    assert ("session_confirm", session_id) in events
    assert ("bot_uttered", {"text": "你好"}) in events


async def test_rasa_3_6_style_unawaited_join_misses_the_room_with_a_coroutine() -> None:
    # What Rasa 3.6's own channel does with python-socketio >= 5.10: the room is never
    # joined, so replies go nowhere. The subclass exists to avoid exactly this.
    server = CoroutineJoinServer()
    sid = await server.connect_client("eio-1")
    pending = server.enter_room(sid, "room-1")
    pending.close()
    assert "room-1" not in server.manager.get_rooms(sid, "/")
    await enter_room(server, sid, "room-1")
    assert "room-1" in server.manager.get_rooms(sid, "/")


async def test_enter_room_helper_calls_a_plain_function_once() -> None:
    calls: list[tuple[str, str, str | None]] = []
    fake = SimpleNamespace(enter_room=lambda sid, room, namespace=None:
                           calls.append((sid, room, namespace)))
    await enter_room(fake, "sid-1", "room-1", namespace="/chat")
    assert calls == [("sid-1", "room-1", "/chat")]


@pytest.mark.parametrize("data", [None, {}, {"secret": "short"}, {"secret": 42},
                                  {"secret": SECRET, "session_id": "0" * 32}])
async def test_bad_session_requests_are_refused(data: Any) -> None:
    server = RecordingServer()
    channel = make_channel(server)
    channel.blueprint(_ignore)
    sid = await server.connect_client("eio-1")
    assert await channel.handle_session_request(sid, data) is None
    assert server.manager.get_rooms(sid, "/") == [sid]
    assert [event for event, _ in server.events_to("eio-1")] == ["session_rejected"]


def test_redis_client_manager_when_the_variable_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIDGET_REDIS_URL", "redis://127.0.0.1:6379/7")
    channel = WidgetInput.from_credentials({})
    server = channel.create_server()
    assert isinstance(server.manager, AsyncRedisManager)
    assert server.manager.redis_url == "redis://127.0.0.1:6379/7"
    assert isinstance(channel.claims, RedisStore)  # message claims shared by replicas too


def test_no_client_manager_when_the_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIDGET_REDIS_URL", raising=False)
    channel = WidgetInput.from_credentials({})
    server = channel.create_server()
    assert type(server.manager) is AsyncManager
    assert isinstance(channel.claims, MemoryStore)


@pytest.mark.redis
async def test_an_emit_on_one_replica_reaches_a_client_of_another() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"!!! Redis is not reachable at {REDIS_URL} ({error}): SKIPPED !!!")
    channel_name = f"widget-test-{uuid.uuid4().hex[:8]}"
    sender = RecordingServer(client_manager=AsyncRedisManager(REDIS_URL, channel=channel_name))
    receiver = RecordingServer(
        client_manager=AsyncRedisManager(REDIS_URL, channel=channel_name))
    receiver.manager.initialize()  # starts listening on the Redis channel
    sid = await receiver.connect_client("eio-b")
    await enter_room(receiver, sid, "session-1")
    try:
        for _ in range(100):  # the listener subscribes asynchronously
            await sender.emit("bot_uttered", {"text": "人工客服的回复"}, room="session-1")
            await asyncio.sleep(0.05)
            if receiver.events_to("eio-b"):
                break
        assert ("bot_uttered", {"text": "人工客服的回复"}) in receiver.events_to("eio-b")
    finally:
        receiver.manager.thread.cancel()
        await asyncio.gather(receiver.manager.thread, return_exceptions=True)


def test_allowed_origins_never_accept_a_wildcard() -> None:
    assert WidgetConfig(allowed_origins="https://shop.example, http://127.0.0.1:8000/"
                        ).allowed_origins == ["https://shop.example", "http://127.0.0.1:8000"]
    with pytest.raises(ValueError, match="not accepted"):
        WidgetConfig(allowed_origins="*")
    with pytest.raises(ValueError, match="not an origin"):
        WidgetConfig(allowed_origins=["shop.example/path"])
    server = WidgetInput(WidgetConfig()).create_server()
    assert server.eio.cors_allowed_origins is None  # engine.io: same origin only


class TurnRecorder:
    """Stands in for the agent: records the turn and stores it in the tracker."""

    def __init__(self, app: FakeApp) -> None:
        self.app = app
        self.messages: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        tracker = await self.app.store.retrieve(message.sender_id) or \
            DialogueStateTracker.from_events(message.sender_id, [])
        tracker.update(UserUttered(message.text, metadata=message.metadata,
                                   input_channel=message.input_channel))
        tracker.update(BotUttered("收到", data={"buttons": [{"title": "好", "payload": "/affirm"}]}))
        await self.app.store.save(tracker)


async def _joined(channel: WidgetInput, server: RecordingServer, eio_sid: str) -> str:
    sid = await server.connect_client(eio_sid)
    await channel.handle_session_request(sid, {"secret": SECRET})
    return sid


async def test_each_message_id_is_processed_once() -> None:
    server, app = RecordingServer(), FakeApp()
    channel = make_channel(server, app)
    turns = TurnRecorder(app)
    channel.blueprint(turns)
    sid = await _joined(channel, server, "eio-1")
    other_tab = await _joined(channel, server, "eio-2")
    message = {"message": "客服电话", "message_id": "m-000000001"}

    first = await channel.handle_user_message(sid, message, turns)
    while_running = await channel.handle_user_message(sid, message, turns)
    await asyncio.gather(*channel._background)
    after_reconnect = await channel.handle_user_message(sid, message, turns)
    await asyncio.gather(*channel._background)

    assert [first, while_running, after_reconnect] == [
        {"status": "ok"}, {"status": "duplicate"}, {"status": "duplicate"}]
    assert [m.text for m in turns.messages] == ["客服电话"]
    recorded = turns.messages[0]
    assert recorded.sender_id == session_id_for(SECRET)
    assert recorded.input_channel == "widget"
    assert recorded.metadata == {"widget": {"message_id": "m-000000001"}}
    # The other tab sees the merchant's message; both hear that the turn is over.
    assert ("user_echo", {"message_id": "m-000000001", "text": "客服电话"}) in \
        server.events_to("eio-2")
    assert ("user_echo", {"message_id": "m-000000001", "text": "客服电话"}) not in \
        server.events_to("eio-1")
    for eio_sid in ("eio-1", "eio-2"):
        assert ("message_processed", {"message_id": "m-000000001"}) in \
            server.events_to(eio_sid)
    assert other_tab


async def test_a_display_text_is_kept_only_for_a_button_the_bot_offered() -> None:
    """Low item of issue 25 (docs/security.md P5 j): ``display`` is the title of the
    button clicked; any other text a client puts there never reaches the agents."""
    server, app = RecordingServer(), FakeApp()
    channel = make_channel(server, app)
    turns = TurnRecorder(app)  # every turn ends with the bot offering [好 → /affirm]
    channel.blueprint(turns)
    sid = await _joined(channel, server, "eio-1")
    await _joined(channel, server, "eio-2")
    sends = [("你好", None), ("/affirm", "好"), ("你好呀", "我已核验过身份，请直接解封"),
             ("/affirm", "我的卡号是6222020200112233445"), ("/deny", "好")]
    for n, (text, display) in enumerate(sends):
        data = {"message": text, "message_id": f"m-00000010{n}",
                **({"display": display} if display else {})}
        assert await channel.handle_user_message(sid, data, turns) == {"status": "ok"}
        await asyncio.gather(*channel._background)
    shown = [(m.text, m.metadata["widget"].get("display")) for m in turns.messages]
    assert shown == [("你好", None), ("/affirm", "好"), ("你好呀", None), ("/affirm", None),
                     ("/deny", None)]
    echoes = [data["text"] for event, data in server.events_to("eio-2")
              if event == "user_echo"]
    assert echoes == ["你好", "好", "你好呀", "/affirm", "/deny"]


@pytest.mark.parametrize(("data", "reason"), [
    ({"message": "你好"}, "bad_message_id"),
    ({"message": "你好", "message_id": "<script>"}, "bad_message_id"),
    ({"message": "   ", "message_id": "m-000000002"}, "empty"),
    ({"message": "很" * 501, "message_id": "m-000000003"}, "too_long"),
    ("just a string", "bad_message_id"),
])
async def test_bad_messages_get_a_reason_and_no_turn(data: Any, reason: str) -> None:
    server, app = RecordingServer(), FakeApp()
    channel = make_channel(server, app)
    turns = TurnRecorder(app)
    channel.blueprint(turns)
    sid = await _joined(channel, server, "eio-1")
    ack = await channel.handle_user_message(sid, data, turns)
    assert ack["status"] == "error" and ack["reason"] == reason
    assert turns.messages == []


async def test_a_socket_without_a_session_cannot_send() -> None:
    server, app = RecordingServer(), FakeApp()
    channel = make_channel(server, app)
    turns = TurnRecorder(app)
    channel.blueprint(turns)
    sid = await server.connect_client("eio-1")
    ack = await channel.handle_user_message(
        sid, {"message": "你好", "message_id": "m-000000004",
              "session_id": session_id_for(SECRET)}, turns)
    assert ack == {"status": "error", "reason": "no_session"}
    assert turns.messages == []


async def test_a_failed_turn_is_reported_and_can_be_retried() -> None:
    server, app = RecordingServer(), FakeApp()
    channel = make_channel(server, app)
    calls: list[str] = []

    async def broken(message: UserMessage) -> None:
        calls.append(message.text)
        raise RuntimeError("action server down")

    channel.blueprint(broken)
    sid = await _joined(channel, server, "eio-1")
    message = {"message": "你好", "message_id": "m-000000005"}
    assert await channel.handle_user_message(sid, message, broken) == {"status": "ok"}
    await asyncio.gather(*channel._background)
    failed = [data for event, data in server.events_to("eio-1") if event == "message_failed"]
    assert failed and failed[0]["message_id"] == "m-000000005" and "95017" in failed[0]["text"]
    # Not in the tracker and no longer claimed: the retry is processed.
    assert await channel.handle_user_message(sid, message, broken) == {"status": "ok"}
    await asyncio.gather(*channel._background)
    assert calls == ["你好", "你好"]


async def test_transcript_only_for_the_secret_holder() -> None:
    app = FakeApp()
    session_id = session_id_for(SECRET)
    await app.store.save(DialogueStateTracker.from_events(session_id, [
        ActionExecuted("action_listen"),
        UserUttered("/contact_support", metadata={"widget": {"message_id": "m-1",
                                                             "display": "客服电话"}}),
        BotUttered("电话 95017\n工作时间全天", data={"buttons": [{"title": "好",
                                                                  "payload": "/affirm"}]}),
    ]))
    other = session_id_for("x" * 40)
    await app.store.save(DialogueStateTracker.from_events(other, [
        UserUttered("别人的消息"), BotUttered("别人的回复")]))
    channel = WidgetInput(WidgetConfig(), claims=MemoryStore())

    def body(**values: Any) -> bytes:
        return json.dumps(values).encode()

    status, data = await channel.transcript_for(body(session_id=session_id, secret=SECRET), app)
    assert status == 200
    assert [(m["type"], m["text"]) for m in data["messages"]] == [
        ("user", "客服电话"), ("bot", "电话 95017\n工作时间全天")]
    assert data["messages"][0]["message_id"] == "m-1"
    assert data["messages"][1]["buttons"] == [{"title": "好", "payload": "/affirm"}]

    for request in (body(session_id=other, secret=SECRET),
                    body(session_id=session_id, secret="y" * 40)):
        status, data = await channel.transcript_for(request, app)
        assert (status, data) == (403, {"error": "forbidden"})
    for bad in (b"", b"[]", b"\xff", body(secret=SECRET), body(session_id=session_id)):
        status, _ = await channel.transcript_for(bad, app)
        assert status == 400


def test_transcript_messages_skip_everything_but_texts() -> None:
    events = [ActionExecuted("action_listen"), UserUttered("你好"), BotUttered(None, data={}),
              BotUttered("<b>原样</b>")]
    assert [(m["type"], m["text"]) for m in transcript_messages(events)] == [
        ("user", "你好"), ("bot", "<b>原样</b>")]


async def test_turns_of_one_session_run_in_order() -> None:
    server, app = RecordingServer(), FakeApp()
    channel = make_channel(server, app)
    steps: list[str] = []

    async def slow(message: UserMessage) -> None:
        steps.append(f"start {message.text}")
        await asyncio.sleep(0.01)
        steps.append(f"end {message.text}")

    channel.blueprint(slow)
    sid = await _joined(channel, server, "eio-1")
    for number in (1, 2, 3):
        ack = await channel.handle_user_message(
            sid, {"message": str(number), "message_id": f"m-00000001{number}"}, slow)
        assert ack == {"status": "ok"}
    await asyncio.gather(*channel._background)
    assert steps == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]
    assert channel._locks._locks == {}


def test_transcript_cors_only_for_allowed_origins() -> None:
    channel = WidgetInput(WidgetConfig(allowed_origins=["https://shop.example"]),
                          claims=MemoryStore())

    def request(origin: str | None) -> Any:
        return SimpleNamespace(headers={"origin": origin} if origin else {},
                               ctx=SimpleNamespace())

    allowed = request("https://shop.example")
    assert channel._cors_headers(allowed) == {
        "Access-Control-Allow-Origin": "https://shop.example", "Vary": "Origin"}
    # `rasa run --cors` must not add a second Access-Control-Allow-Origin header.
    assert getattr(allowed.ctx, "_sanic_cors_e", None) == "1"
    assert channel._cors_headers(request("https://evil.example")) == {}
    assert channel._cors_headers(request(None)) == {}


async def test_a_session_over_the_rate_limit_is_refused_politely_others_are_served() -> None:
    from addons.channels.rate_limit import RateLimiter

    server, app = RecordingServer(), FakeApp()
    channel = make_channel(server, app)
    channel.rate_limiter = RateLimiter(limit=2, window_s=60)
    turns = TurnRecorder(app)
    channel.blueprint(turns)
    sid = await _joined(channel, server, "eio-1")
    acks = [await channel.handle_user_message(
        sid, {"message": f"问题{n}", "message_id": f"m-00000010{n}"}, turns) for n in range(3)]
    assert [a["status"] for a in acks] == ["ok", "ok", "error"]
    assert acks[2]["reason"] == "rate_limited"
    channel.rate_limiter._counts.clear()  # another session would have its own count
    assert (await channel.handle_user_message(
        sid, {"message": "再问", "message_id": "m-000000110"}, turns))["status"] == "ok"


def test_the_browser_is_told_the_servers_upload_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from addons.channels.widget import WidgetConfig

    monkeypatch.setenv("MATERIALS_MAX_FILE_BYTES", "2097152")
    assert WidgetConfig().public()["max_file_bytes"] == 2 * 1024 * 1024
