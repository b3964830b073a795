"""Follow-ups read with their topic and second asks beside a task (issues 18 and 19),
through the trained model: a short follow-up right after an answer gets the entry of the
same topic it asks about, a question that names another topic still gets its own answer,
and a request that starts the identity check or the advisor keeps its other ask."""

from __future__ import annotations

import pytest

from tests.dialogue.conftest import Talk
from tests.dialogue.test_identity_shapes import say

pytestmark = pytest.mark.dialogue


@pytest.mark.parametrize(("opening", "first", "follow", "expected"), [
    ("商户号被冻结了，里面的钱怎么办", "kb:frozen_funds", "那要多久", "kb:funds_release_time"),
    ("申诉被驳回了怎么办", "kb:appeal_rejected", "没说原因啊", "kb:appeal_rejected_no_reason"),
    ("申诉要准备什么材料", "kb:appeal_materials", "没有执照呢", "kb:appeal_no_licence"),
])
async def test_a_short_follow_up_gets_the_entry_of_its_topic(
        talk: Talk, opening: str, first: str, follow: str, expected: str) -> None:
    merchant = talk()
    names = await say(merchant, opening)
    assert first in names, names
    names = await say(merchant, follow)
    assert expected in names, names


async def test_a_question_naming_another_topic_is_answered_as_asked(talk: Talk) -> None:
    merchant = talk()
    assert "kb:fee_rate" in await say(merchant, "你们费率是多少")
    names = await say(merchant, "对了 客服电话多少")
    assert "kb:contact_support" in names, names


async def test_a_status_request_with_a_second_ask_answers_it_before_the_check(
        talk: Talk) -> None:
    merchant = talk()
    reply = await merchant.say("帮我查下我的账户状态，另外被冻结的钱以后会不会被没收")
    assert "funds_forfeit" in reply.entries, reply.entries
    assert "utter_ask_merchant_id" in reply.responses, reply.responses
    assert await merchant.active_form() == "verify_form"


async def test_a_plain_status_request_gets_no_second_answer(talk: Talk) -> None:
    reply = await talk().say("帮我查一下我的账户状态")
    assert not any(reply.entries), reply.entries
    assert "utter_ask_merchant_id" in reply.responses, reply.responses


async def test_the_advisor_offer_keeps_the_other_ask(talk: Talk) -> None:
    reply = await talk().say("外地的客户怎么付钱给我？另外手续费是多少")
    assert "utter_remote_options" in reply.responses, reply.responses
    assert {"fee_rate", "fee_per_transaction"} & set(reply.entries), reply.entries
