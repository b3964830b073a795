"""The channel inside a real Sanic server (in-process): what happens when WeChat hangs up
and when the server stops."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from addons.channels.wechat import WeChatInput
from addons.channels.wechat_store import MemoryStore
from tests.wechat.app_server import RunningServer, serving
from tests.wechat.client import FakeBot, GatedBot, openid, wechat_send
from tests.wechat.fake_wechat import FakeWeChat

send = wechat_send
# A safety net against a hanging test, never a speed target.
WAIT_S = 10


def http_request(server: RunningServer, xml: str) -> bytes:
    query, body = wechat_send.signed_request(xml, "test-wechat-token")
    path = f"/webhooks/wechat/webhook?{urlencode(query)}"
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


async def post(server: RunningServer, xml: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(http_request(server, xml))
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), WAIT_S)
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


class HangUpChannel(WeChatInput):
    """Notes when Sanic cancels the request because the client went away."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hung_up = asyncio.Event()

    async def handle_post(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().handle_post(*args, **kwargs)
        except asyncio.CancelledError:
            self.hung_up.set()
            raise


class ClosingStore(MemoryStore):
    closed = False

    async def close(self) -> None:
        self.closed = True


async def test_wechat_hanging_up_mid_answer_still_gets_the_answer_once(
    make_channel: Any, fake_wechat: FakeWeChat
) -> None:
    channel: HangUpChannel = make_channel(channel_class=HangUpChannel)
    bot, user = GatedBot(), openid()
    xml = send.text_xml(user, "你好", msg_id=5001)
    async with serving(channel, bot) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(http_request(server, xml))
        await writer.drain()
        await asyncio.wait_for(bot.started.wait(), WAIT_S)
        writer.close()  # WeChat hangs up while the bot is still answering
        await writer.wait_closed()
        await asyncio.wait_for(channel.hung_up.wait(), WAIT_S)
        bot.gate.set()
        await channel.drain()
        assert [m.content for m in fake_wechat.sent_to(user)] == ["收到：你好"]
        # WeChat's retry of the same message: nothing new is said or sent.
        assert await post(server, xml) == (200, "success")
        await channel.drain()
    assert [m.content for m in fake_wechat.sent_to(user)] == ["收到：你好"]
    assert len(bot.calls) == 1


async def test_a_delivery_pending_when_the_server_stops_still_reaches_wechat(
    make_channel: Any, fake_wechat: FakeWeChat
) -> None:
    channel = make_channel(reply_timeout_s=0.05)
    bot, user = GatedBot(), openid()
    async with serving(channel, bot) as server:
        # The bot is held back, so the answer is deferred to the customer-service API.
        assert await post(server, send.text_xml(user, "你好")) == (200, "success")
        assert fake_wechat.sent_to(user) == []
        bot.gate.set()
        await server.stop()  # Sanic's before_server_stop listeners run here
        assert [m.content for m in fake_wechat.sent_to(user)] == ["收到：你好"]


async def test_server_stop_closes_the_api_session_and_the_store(
    make_channel: Any, fake_wechat: FakeWeChat, client_sessions: list[Any]
) -> None:
    store = ClosingStore()
    channel, user = make_channel(store=store), openid()
    async with serving(channel, FakeBot()) as server:
        await channel.get_output_channel().send_text_message(user, "客服回复")
        [session] = client_sessions
        assert not session.closed and not store.closed
        await server.stop()
        assert session.closed and store.closed
    assert [m.content for m in fake_wechat.sent_to(user)] == ["客服回复"]
