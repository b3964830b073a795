"""Issue 20, item 4 on WeChat: an agent's message says who wrote it ("【客服小王】…");
joining and leaving are one short line each, sent as the console wrote them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from rasa.shared.core.events import BotUttered

from addons.channels.wechat import WeChatOutput
from addons.channels.wechat_api import WeChatApi
from addons.channels.wechat_store import ChannelState, MemoryStore
from console.delivery import agent_metadata, notice_metadata
from tests.wechat.client import APP_ID, openid
from tests.wechat.fake_wechat import FakeWeChat


@pytest.fixture()
async def output(fake_wechat: FakeWeChat) -> AsyncIterator[WeChatOutput]:
    state = ChannelState(MemoryStore())
    api = WeChatApi(APP_ID, "secret", state, fake_wechat.url)
    yield WeChatOutput(api, state, 2000)
    await api.close()


async def send(output: WeChatOutput, user: str, event: BotUttered) -> None:
    # What Rasa's execute_side_effects hands the output channel (the console's append).
    await output.send_response(user, event.message())


async def test_an_agents_message_carries_the_agents_name(
        output: WeChatOutput, fake_wechat: FakeWeChat) -> None:
    user = openid()
    await send(output, user, BotUttered("客服小王已接入，正在查看你的问题。",
                                        metadata=notice_metadata("claimed", "小王")))
    await send(output, user, BotUttered("您好，您的账户是限制收款，余额可以提现。",
                                        metadata=agent_metadata("小王", 12)))
    await send(output, user, BotUttered("第二条\n换行也在", metadata=agent_metadata("小王", 13)))
    await send(output, user, BotUttered("客服小王已结束会话，之后由智能助手回复。",
                                        metadata=notice_metadata("closed", "小王")))
    await send(output, user, BotUttered("请给这次服务打个分吧（1-5分）。",
                                        data={"buttons": [{"title": "5 很满意", "payload": "5"}]},
                                        metadata={"utter_action": "utter_ask_satisfaction_score"}))
    texts = [m.content for m in fake_wechat.sent_to(user)]
    assert texts[:4] == [
        "客服小王已接入，正在查看你的问题。",  # joining: one line, no prefix
        "【客服小王】您好，您的账户是限制收款，余额可以提现。",
        "【客服小王】第二条\n换行也在",
        "客服小王已结束会话，之后由智能助手回复。",  # leaving: one line
    ]
    assert not texts[4].startswith("【")  # the bot speaks as itself again
    assert sum("已接入" in t for t in texts) == 1 and sum("已结束会话" in t for t in texts) == 1


async def test_a_nameless_agent_message_is_still_marked_as_a_person(
        output: WeChatOutput, fake_wechat: FakeWeChat) -> None:
    user = openid()
    await send(output, user, BotUttered("您好", metadata={"agent_message_id": 3}))
    await send(output, user, BotUttered("好的", metadata={"agent": "  ", "agent_message_id": 4}))
    assert [m.content for m in fake_wechat.sent_to(user)] == ["【人工客服】您好", "【人工客服】好的"]


async def test_a_long_agent_message_is_prefixed_once(
        output: WeChatOutput, fake_wechat: FakeWeChat) -> None:
    user = openid()
    await send(output, user, BotUttered("很长的说明。" * 200, metadata=agent_metadata("小王", 5)))
    parts = [m.content for m in fake_wechat.sent_to(user)]
    assert len(parts) > 1 and parts[0].startswith("【客服小王】")
    assert not any(p.startswith("【") for p in parts[1:])
