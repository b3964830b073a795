"""The channel inside a real Sanic server (in-process): what happens when the server stops."""

from __future__ import annotations

from typing import Any

from addons.channels.wechat_store import MemoryStore
from tests.wechat.app_server import serving
from tests.wechat.client import FakeBot, openid, wechat_send
from tests.wechat.fake_wechat import FakeWeChat

send = wechat_send
# A safety net against a hanging test, never a speed target.
WAIT_S = 10


class ClosingStore(MemoryStore):
    closed = False

    async def close(self) -> None:
        self.closed = True


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
