"""Typed choices in whole conversations (issue 19, shape 3): typing the number or the
title of a button that was just offered selects it, first, on every channel; a number
with nothing to choose from never starts the identity check; forms that ask for numbers
are not disturbed. Through the trained model and Rasa's own message handling, where
``addons.typed_choices`` reads the last bot turn from the tracker.
"""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.core.events import BotUttered, UserUttered

from tests.conversation import Conversation, Reply
from tests.dialogue.conftest import Talk

pytestmark = pytest.mark.dialogue

# The "异地收款" menu entry (WeChat menu, widget topic) sends this payload.
REMOTE_MENU = "/ask_remote_collection"
# Vague lines the knowledge base answers with "你是想问：" (tried in order).
VAGUE_FOR_KNOWLEDGE = ["资金问题", "风控的事", "码被停了", "能不能快点", "有没有别的办法"]
# Two unclear lines in a row: the fallback's second stage offers the likeliest topics.
UNCLEAR_PAIRS = [("钱", "码"), ("啥意思", "这个咋说"), ("钱", "费用"), ("码", "费用")]


async def last_user(merchant: Conversation) -> UserUttered:
    return [e for e in (await merchant.tracker()).events if isinstance(e, UserUttered)][-1]


async def knowledge_entries(merchant: Conversation, reply: Reply) -> list[str]:
    """Knowledge entries the bot answered with in the last turn."""
    events = list((await merchant.tracker()).events)
    since = max(i for i, e in enumerate(events) if isinstance(e, UserUttered))
    return [str(e.metadata.get("knowledge_entry")) for e in events[since:]
            if isinstance(e, BotUttered) and e.metadata.get("knowledge_entry")]


def kb_entry(button: dict[str, Any]) -> str:
    payload = button["payload"]
    assert payload.startswith('/knowledge{"kb_entry":"'), payload
    return payload.split('"kb_entry":"', 1)[1].split('"', 1)[0]


async def at_remote_intro(talk: Talk, **kwargs: Any) -> Conversation:
    merchant = talk(**kwargs)
    intro = await merchant.say(REMOTE_MENU)
    assert intro.responses == ["utter_remote_options"]
    assert [b["title"] for b in intro.buttons] == ["1 帮我挑一个", "2 不用了"]
    return merchant


async def at_knowledge_choices(talk: Talk) -> tuple[Conversation, Reply]:
    for line in VAGUE_FOR_KNOWLEDGE:
        merchant = talk()
        reply = await merchant.say(line)
        if reply.responses == ["utter_kb_did_you_mean"]:
            return merchant, reply
    raise AssertionError(f"none of {VAGUE_FOR_KNOWLEDGE} gets 你是想问： any more: add one that does")


async def at_fallback_choices(talk: Talk) -> tuple[Conversation, Reply]:
    for first, second in UNCLEAR_PAIRS:
        merchant = talk()
        await merchant.say(first)
        reply = await merchant.say(second)
        if reply.responses == ["utter_did_you_mean"]:
            return merchant, reply
    raise AssertionError(f"none of {UNCLEAR_PAIRS} reaches the fallback's choices any more")


# --- after the remote-collection intro -----------------------------------------------------
@pytest.mark.parametrize("typed", ["1", "１", "第一个", "帮我挑一个", "帮我挑一下", "1 帮我挑一个",
                                   "好的，帮我挑一个"])
async def test_typing_yes_to_the_advisor_offer_starts_the_advisor(talk: Talk, typed: str) -> None:
    merchant = await at_remote_intro(talk)
    reply = await merchant.say(typed)
    assert reply.responses == ["utter_ask_payer_location"]
    assert await merchant.active_form() == "remote_advice_form"
    said = await last_user(merchant)
    assert said.text == "/affirm"  # exactly what the click sends
    assert said.metadata["choice"]["typed"] == typed


@pytest.mark.parametrize("typed", ["2", "第二个", "不用了", "二"])
async def test_typing_no_to_the_advisor_offer_declines_it(talk: Talk, typed: str) -> None:
    merchant = await at_remote_intro(talk)
    reply = await merchant.say(typed)
    assert reply.responses == ["utter_deny_ack"]
    assert await merchant.active_form() is None


async def test_the_advisor_answers_typed_as_titles(talk: Talk) -> None:
    merchant = await at_remote_intro(talk)
    await merchant.say("1")
    await merchant.say("外地，远程付款")
    assert await merchant.slot("payer_location") == "remote"
    await merchant.say("没有")
    assert await merchant.slot("has_website_icp") is False


# --- after "你是想问：" (knowledge) and the fallback's choices --------------------------------
async def test_a_typed_number_after_did_you_mean_answers_that_entry(talk: Talk) -> None:
    merchant, offer = await at_knowledge_choices(talk)
    reply = await merchant.say("1")
    assert reply.intent == "knowledge"
    assert await knowledge_entries(merchant, reply) == [kb_entry(offer.buttons[0])]
    assert await merchant.active_form() is None  # never the identity check


async def test_a_typed_title_after_did_you_mean_answers_that_entry(talk: Talk) -> None:
    merchant, offer = await at_knowledge_choices(talk)
    second = offer.buttons[1]
    title = second["title"].split(" ", 1)[1]
    reply = await merchant.say(title)
    assert await knowledge_entries(merchant, reply) == [kb_entry(second)]


async def test_none_of_these_typed_as_its_number_asks_for_a_person(talk: Talk) -> None:
    merchant, offer = await at_knowledge_choices(talk)
    assert offer.buttons[-1]["payload"] == "/request_human"
    reply = await merchant.say(str(len(offer.buttons)))
    assert reply.intent == "request_human"


async def test_a_typed_number_after_the_fallbacks_choices_picks_that_topic(talk: Talk) -> None:
    merchant, offer = await at_fallback_choices(talk)
    reply = await merchant.say("1")
    assert reply.intent == offer.buttons[0]["payload"].lstrip("/")
    assert "utter_ask_rephrase" not in reply.responses


# --- a paused form ------------------------------------------------------------------------
async def pause_the_advisor(talk: Talk, **kwargs: Any) -> Conversation:
    merchant = await at_remote_intro(talk, **kwargs)
    await merchant.say("帮我挑一个")
    await merchant.say("审核一般要多久啊？")
    paused = await merchant.say("客服电话多少")
    assert paused.responses[-1] == "utter_pause_remote_advice_form"
    assert await merchant.active_form() is None
    return merchant


async def test_a_number_after_the_advisor_paused_resumes_it_not_the_identity_check(
    talk: Talk,
) -> None:
    merchant = await pause_the_advisor(talk)
    reply = await merchant.say("2")
    assert reply.responses == ["utter_resume", "utter_ask_payer_location"]
    assert await merchant.active_form() == "remote_advice_form"
    await merchant.say("2")  # every later answer is read as the advisor's
    assert await merchant.slot("payer_location") == "remote"
    assert await merchant.slot("requested_slot") == "has_website_icp"


async def test_a_number_after_the_identity_check_paused_does_not_restart_it(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("帮我查一下账户状态")
    await merchant.say("审核一般要多久啊？")
    paused = await merchant.say("客服电话多少")
    assert paused.responses[-1] == "utter_pause_verify_form"
    reply = await merchant.say("1")
    assert reply.responses == ["utter_ask_rephrase"]
    assert await merchant.active_form() is None
    resumed = await merchant.say("继续")  # the way back still works
    assert await merchant.active_form() == "verify_form"
    assert "utter_resume" in resumed.responses


# --- a number with nothing to choose from ---------------------------------------------------
async def test_a_number_after_a_recommendation_does_not_start_the_identity_check(
    talk: Talk,
) -> None:
    merchant = await at_remote_intro(talk)
    for answer in ("1", "2", "2", "2", "1"):
        reply = await merchant.say(answer)
    assert reply.responses == ["utter_recommend_multi_channel_code"]
    stray = await merchant.say("1")
    assert stray.intent == "nlu_fallback"
    assert stray.responses == ["utter_ask_rephrase"]
    assert await merchant.active_form() is None
    # The next question is read as a question, not as a merchant id.
    after = await merchant.say("怎么申诉")
    assert await merchant.active_form() is None
    assert not {"utter_hint_merchant_id", "utter_ask_merchant_id"} & set(after.responses)


async def test_a_bare_number_as_the_first_message_is_not_a_look_up(talk: Talk) -> None:
    merchant = talk()
    reply = await merchant.say("2")
    assert reply.responses == ["utter_ask_rephrase"]
    assert await merchant.active_form() is None


# --- forms that ask for numbers, and ids, are not choices -----------------------------------
async def test_a_merchant_id_typed_after_buttons_starts_the_check_with_it(talk: Talk) -> None:
    merchant = await at_remote_intro(talk)
    await merchant.say("1900000002")
    assert await merchant.active_form() == "verify_form"
    assert await merchant.slot("requested_slot") == "phone_last4"
    assert (await last_user(merchant)).text == "1900000002"


async def test_an_amount_at_the_volume_step_is_an_amount_not_button_2(talk: Talk) -> None:
    merchant = await at_remote_intro(talk)
    for answer in ("1", "2", "2", "2", "2"):
        await merchant.say(answer)
    assert await merchant.slot("requested_slot") == "monthly_volume"
    await merchant.say("20万")
    assert await merchant.slot("monthly_volume") == "large"
    assert (await last_user(merchant)).text == "20万"


async def test_phone_digits_at_the_identity_check_are_the_forms(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("帮我查一下账户状态")
    await merchant.say("1900000002")
    reply = await merchant.say("0002")
    assert "utter_verified" in reply.responses


async def test_rest_and_widget_keep_what_was_typed_for_the_transcript(talk: Talk) -> None:
    merchant = await at_remote_intro(talk, channel="widget")
    await merchant.say("帮我挑一个")
    said = await last_user(merchant)
    assert said.text == "/affirm"
    assert said.metadata["choice"] == {"typed": "帮我挑一个", "number": 1, "payload": "/affirm",
                                       "how": "title"}


async def test_a_number_with_a_question_starts_the_advisor_and_answers_the_question(
        talk: Talk) -> None:
    # "1 不过你还没说为啥给我限制了呀": the choice is made and the question answered, once.
    for channel in ("rest", "wechat"):
        merchant = await at_remote_intro(talk, channel=channel)
        reply = await merchant.say("1 不过你还没说为啥给我限制了呀 我又没干坏事")
        assert await merchant.active_form() == "remote_advice_form", channel
        assert "restriction_no_wrongdoing" in reply.entries, (channel, reply.entries)
        # The advisor's first question, asked again after the answer; its buttons once.
        asked = reply.responses[0]
        assert asked.startswith("utter_ask_"), reply.responses
        assert reply.responses[-1] == asked.replace("utter_ask_", "utter_remind_")
        assert reply.buttons and all(m.get("buttons") for m in reply.messages[-1:])
        assert not any(m.get("buttons") for m in reply.messages[:-1])
        users = [e for e in (await merchant.tracker()).events if isinstance(e, UserUttered)]
        assert [u.text for u in users[-2:]] == ["/affirm", "不过你还没说为啥给我限制了呀 我又没干坏事"]
        # The advisor goes on from its question.
        after = await merchant.say("2")
        assert await merchant.active_form() == "remote_advice_form"
        assert after.responses and after.responses[-1].startswith("utter_ask_")
