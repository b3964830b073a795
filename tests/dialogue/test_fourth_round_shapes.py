"""Shapes from the fourth new-user round (issue 19), through the trained model:
"这么久啊？？" after an appeal's status gets a way to chase that appeal, "还是传不上去" after
the upload advice gets a person, never "帮不上忙"; someone told by fake police to move
money to a "safe account" is told not to, and asked again, told plainly again (not the
leaked-code steps, not the general warning)."""

from __future__ import annotations

import pytest

from tests.dialogue.conftest import Talk
from tests.dialogue.test_identity_shapes import say

pytestmark = pytest.mark.dialogue


async def test_impatience_after_the_status_of_an_appeal_names_it_and_a_way_to_chase_it(
        talk: Talk) -> None:
    merchant = talk()
    await say(merchant, "查申诉进度 商户号1900000003 尾号0003")
    reply = await merchant.say("这么久啊？？")
    assert reply.responses == ["utter_reaction_impatient_appeal"], reply.responses
    assert "AP20261120001" in reply.text and "95017" in reply.text


async def test_advice_that_did_not_work_leads_to_a_person(talk: Talk) -> None:
    merchant = talk()
    await say(merchant, "申诉材料上传一直失败怎么办")
    names = await say(merchant, "还是传不上去")
    assert names == ["utter_reaction_still_failing"], names
    assert "utter_out_of_scope" not in names and "utter_ask_rephrase" not in names


async def test_a_safe_account_scam_is_told_not_to_transfer_and_again_when_asked_again(
        talk: Talk) -> None:
    person = talk()
    names = await say(person, "刚有个自称市公安局的人加我微信，说我涉嫌洗钱，要我把银行卡里的钱转到"
                              "他们的安全账户做资金核查，查完就解冻我的零钱，这是真的吗")
    assert names[0] == "kb:scam_safe_account", names
    assert "kb:scam_credentials_leaked" not in names and "kb:scam_leaked_nothing_lost_yet" not in names
    reply = await person.say("到底要不要转啊？？警察说必须转过去配合调查")
    # The plain no again (its gist, or the short reminder), never the general warning.
    assert {"utter_scam_again", "utter_kb_repeat_insist"} & set(reply.responses), reply.responses
    assert "utter_anti_scam" not in reply.responses and "别转" in reply.text


async def test_where_customers_are_said_with_spaces_is_not_asked_again(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("我做民宿的 客人都是外地提前订房付定金 以后该用啥收款方式")
    assert await merchant.slot("payer_location") == "remote"
    reply = await merchant.say("1")
    assert "utter_ask_payer_location" not in reply.responses, reply.responses
    assert "utter_ask_has_website_icp" in reply.responses, reply.responses


async def test_a_go_ahead_after_the_rejection_reason_starts_the_appeal(talk: Talk) -> None:
    merchant = talk()
    await say(merchant, "我的申诉被驳回了，商户号1900000004，手机尾号0004")
    await say(merchant, "为什么被驳回")
    names = await say(merchant, "行 那你帮我重新提一个")
    # The appeal starts: the rejected account's reason fills the category in.
    assert "utter_ask_appeal_description" in names, names
