"""Shapes from the fourth and fifth new-user rounds (issue 19), through the trained model:
two numbered asks with a merchant id get the second answered at once and the first after
the check, never a freeze by the police the merchant did not mention; chasing an appeal
and withdrawing it to resubmit get their own answers."""

from __future__ import annotations

import pytest

from tests.dialogue.conftest import Talk
from tests.dialogue.test_identity_shapes import say

pytestmark = pytest.mark.dialogue


async def test_two_numbered_asks_with_a_merchant_id(talk: Talk) -> None:
    merchant = talk()
    first = await merchant.say("两个问题：1.我这个号为啥被冻结了 2.冻结这段时间我外卖和外地的单子"
                               "怎么收钱？商户号1900000003")
    # How to collect meanwhile now; why it happened once the check has passed.
    assert "collect_while_restricted" in first.entries, first.entries
    assert "wallet_frozen_authority" not in first.entries and "公安" not in first.text
    assert "后4位" in first.text
    checked = await merchant.say("0003")
    assert "utter_verified" in checked.responses
    assert "utter_reason_instant_withdrawal" in checked.responses, checked.responses


async def test_a_freeze_by_an_authority_is_answered_only_when_named(talk: Talk) -> None:
    merchant = talk()
    own = await merchant.say("我这个号为啥被冻结了")
    assert "wallet_frozen_authority" not in own.entries, own.entries
    named = await talk().say("零钱显示被有权机关冻结，是公安冻的吗")
    assert "wallet_frozen_authority" in named.entries, named.entries


@pytest.mark.parametrize(("text", "entry"), [
    ("我打95017催会不会反而影响结果啊", "appeal_chase_effect"),
    ("那我撤了重新交一份会不会快点？", "appeal_withdraw_resubmit"),
])
async def test_chasing_and_resubmitting_get_their_own_answers(
        talk: Talk, text: str, entry: str) -> None:
    merchant = talk()
    await say(merchant, "查申诉进度 商户号1900000003 尾号0003")
    reply = await merchant.say(text)
    assert reply.entries[:1] == [entry], (reply.entries, reply.responses)
    assert "utter_goodbye" not in reply.responses and "utter_thank" not in reply.responses


async def test_a_scam_told_mid_identity_check_is_answered_first(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("我的收款账户提不了现了，帮我查下账户状态")
    await merchant.say("1900000004")
    story = await merchant.say("等下先问个事，昨天有个自称微信支付“解封顾问”的人加我微信，说交800块"
                               "手续费就能帮我把账户解冻，他还发了个收款码给我。这个靠谱吗？")
    # The scam answer, not "what would you like to do" and not the step's format hint.
    assert story.entries[:1] == ["scam_paid_unfreeze"], (story.entries, story.responses)
    assert "utter_purpose_status" not in story.responses, story.responses
    again = await merchant.say("那个顾问让我交800，我到底要不要交？他说今天不交名额就没了")
    assert "utter_digression_unclear" not in again.responses, again.responses
    assert "不要" in again.text or "别" in again.text, again.text
