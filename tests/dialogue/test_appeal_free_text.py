"""The appeal's description step as merchants use it (issue 19, fifth round): a story
that ends in a question is the description (and the question answered), "我刚才说了，
就这么写" takes the story told before, a question about the category reopens it, and
"修改情况说明" at the summary asks the description again instead of storing those words."""

from __future__ import annotations

import pytest

from tests.dialogue.conftest import Talk
from tests.dialogue.test_appeal import verified

pytestmark = pytest.mark.dialogue

STORY = ("我在县城开水果店，好多老客户搬到外地了还在我这里订水果，他们扫我店里的码付款，"
         "上周就被限制了")


async def test_a_long_story_ending_in_a_question_is_the_description(talk: Talk) -> None:
    merchant, _ = await verified(talk, "我要申诉", "1900000002")
    reply = await merchant.say(STORY + "，外地客户以后怎么付款给我？")
    assert (await merchant.slot("appeal_description") or "").startswith("我在县城开水果店")
    assert reply.responses[-1] == "utter_ask_appeal_contact", reply.responses
    assert "utter_ask_appeal_description" not in reply.responses


async def test_the_story_told_before_the_step_is_used_when_referred_to(talk: Talk) -> None:
    merchant = talk()
    await merchant.say(STORY + "，我想申诉")
    await merchant.say("1900000002 0002")
    reply = await merchant.say("我刚才不是说了嘛，就这么写")
    description = await merchant.slot("appeal_description") or ""
    assert "水果店" in description and "就这么写" not in description, description
    assert "utter_free_text_from_earlier" in reply.responses
    summary = await merchant.say("用绑定手机")
    assert "水果店" in summary.text


async def test_a_question_about_the_category_reopens_it(talk: Talk) -> None:
    merchant, _ = await verified(talk, "我要申诉", "1900000002")
    reply = await merchant.say("类别有哪些可以选？")
    assert await merchant.slot("appeal_description") is None
    assert reply.responses[-1] == "utter_ask_appeal_category", reply.responses
    await merchant.say("2")
    assert await merchant.slot("appeal_category") == "instant_withdrawal"
    assert await merchant.slot("requested_slot") == "appeal_description"


async def test_editing_the_description_at_the_summary(talk: Talk) -> None:
    merchant, _ = await verified(talk, "我要申诉", "1900000002")
    await merchant.say("外地的老客户扫店里的码买水果，都有聊天记录")
    await merchant.say("用绑定手机")
    reply = await merchant.say("修改情况说明")
    assert await merchant.slot("appeal_description") is None
    assert reply.responses[-1] == "utter_ask_appeal_description", reply.responses
    summary = await merchant.say("客户都是搬去外地的老街坊，每单都有微信聊天记录和快递单")
    assert "老街坊" in summary.text and summary.responses[-1] == "utter_ask_appeal_confirm"
    changed = await merchant.say("情况说明改成：我们是卖水果的，客户都是老顾客")
    description = await merchant.slot("appeal_description") or ""
    assert description.startswith("我们是卖水果的") and description.endswith("客户都是老顾客")
    assert changed.responses[-1] == "utter_ask_appeal_confirm"


@pytest.mark.parametrize("addition", ["等下 情况说明加一句 每单都有快递单号 一个月大概三四十单",
                                      "每单都有快递单号，一个月大概三四十单"])
async def test_a_sentence_added_at_the_summary_goes_into_the_description(
        talk: Talk, addition: str) -> None:
    merchant, _ = await verified(talk, "我要申诉", "1900000002")
    await merchant.say("外地的老客户扫店里的码买水果，都有聊天记录")
    await merchant.say("用绑定手机")
    reply = await merchant.say(addition)
    description = await merchant.slot("appeal_description") or ""
    assert description.startswith("外地的老客户") and "快递单号" in description, description
    assert reply.responses == ["utter_description_added", "utter_ask_appeal_confirm"], \
        reply.responses
    assert "快递单号" in reply.text  # the summary shows it before filing
