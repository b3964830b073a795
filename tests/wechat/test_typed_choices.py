"""Typed choices on WeChat's numbered rendering, in-process: the real channel (signed
XML in, passive reply out) in front of the trained model and Rasa's own message
handling. The numbers the merchant reads are the numbers a typed digit picks, and a
digit with nothing to choose from never starts the identity check (issue 19, shape 3).
"""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.core.events import UserUttered

from addons.channels.wechat import WeChatInput
from tests.dialogue.conftest import action_endpoint, agent, fresh_db  # noqa: F401 - fixtures
from tests.wechat.client import content, openid, post, wechat_send
from tests.wechat.fake_wechat import FakeWeChat

pytestmark = pytest.mark.dialogue

send = wechat_send


class Merchant:
    """One WeChat user talking to the assistant through the channel."""

    def __init__(self, channel: WeChatInput, rasa_agent: Any, fake: FakeWeChat) -> None:
        self.channel, self.agent, self.fake = channel, rasa_agent, fake
        self.user = openid()

    async def _post(self, xml: str) -> str:
        before = len(self.fake.sent_to(self.user))
        reply = content(await post(self.channel, self.agent.handle_message, xml))  # type: ignore[arg-type]
        await self.channel.drain()
        later = [m.content for m in self.fake.sent_to(self.user)[before:]]
        return "\n".join([reply or "", *later]).strip()

    async def say(self, text: str) -> str:
        return await self._post(send.text_xml(self.user, text))

    async def click(self, key: str) -> str:
        return await self._post(send.event_xml(self.user, "CLICK", key))

    async def tracker(self) -> Any:
        return await self.agent.tracker_store.get_or_create_tracker(self.user)

    async def last_user(self) -> UserUttered:
        return [e for e in (await self.tracker()).events if isinstance(e, UserUttered)][-1]

    async def active_form(self) -> str | None:
        return (await self.tracker()).active_loop_name


@pytest.fixture()
def merchant(make_channel: Any, fake_wechat: FakeWeChat, agent: Any,  # noqa: F811
             fresh_db: str) -> Merchant:  # noqa: F811
    return Merchant(make_channel(reply_timeout_s=4.5), agent, fake_wechat)


async def test_the_numbers_read_on_wechat_pick_the_buttons(merchant: Merchant) -> None:
    intro = await merchant.click("REMOTE")
    assert "1. 帮我挑一个\n2. 不用了" in intro
    assert "1. 1 帮我挑一个" not in intro  # the title's own number is not shown twice
    question = await merchant.say("１")
    assert await merchant.active_form() == "remote_advice_form"
    assert "2. 外地，远程付款" in question
    said = await merchant.last_user()
    assert said.text == "/affirm"
    assert said.metadata["wechat"]["choice"] == {"number": 1, "typed": "１"}
    await merchant.say("第2个")
    assert (await merchant.tracker()).get_slot("payer_location") == "remote"


async def test_a_title_typed_on_wechat_picks_its_line(merchant: Merchant) -> None:
    await merchant.click("REMOTE")
    await merchant.say("帮我挑一个")
    assert await merchant.active_form() == "remote_advice_form"
    assert (await merchant.last_user()).metadata["wechat"]["choice"]["typed"] == "帮我挑一个"


async def test_a_digit_after_a_recommendation_is_not_an_identity_check(
    merchant: Merchant,
) -> None:
    await merchant.click("REMOTE")
    for answer in ("1", "2", "2", "2"):
        await merchant.say(answer)
    recommendation = await merchant.say("1")
    assert "推荐" in recommendation
    stray = await merchant.say("1")
    assert "商户号" not in stray
    assert await merchant.active_form() is None
    # ... and later answers are not misread as merchant ids.
    answer = await merchant.say("怎么申诉")
    assert "商户号是10位数字" not in answer
    assert await merchant.active_form() is None


async def test_a_digit_after_a_paused_form_goes_back_to_it(merchant: Merchant) -> None:
    await merchant.click("REMOTE")
    await merchant.say("1")
    await merchant.say("审核一般要多久啊？")
    paused = await merchant.say("客服电话多少")
    assert "继续" in paused and await merchant.active_form() is None
    resumed = await merchant.say("2")
    assert "商户号" not in resumed
    assert await merchant.active_form() == "remote_advice_form"
    await merchant.say("2")
    assert (await merchant.tracker()).get_slot("payer_location") == "remote"
