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


async def test_a_service_provider_asking_to_lower_a_sub_merchant_rate(talk: Talk) -> None:
    reply = await talk().say("我是服务商，旗下有个特约商户想把费率降低一点，怎么操作？")
    assert reply.entries[:1] == ["fee_rate_lower"], reply.entries
    # The service provider's own answer, not the direct merchant's "通常不能随意议价".
    assert "服务商平台" in reply.text and "直连商户" not in reply.text, reply.text


async def test_an_appeal_the_merchant_never_filed_gets_the_security_answer(talk: Talk) -> None:
    merchant = talk()
    await say(merchant, "查申诉进度 商户号1900000004 尾号0004")
    reply = await merchant.say("这个申诉我从来没提交过啊，谁交的？")
    assert reply.entries[:1] == ["account_unknown_operation"], reply.entries
    assert "95017" in reply.text and "密码" in reply.text


@pytest.mark.parametrize("text", ["申诉要的材料能直接发给你吗？", "执照照片我拍好了，直接发这里行吗"])
async def test_sending_materials_here_is_answered(talk: Talk, text: str) -> None:
    reply = await talk().say(text)
    assert reply.entries[:1] == ["materials_send_here"], reply.entries


async def test_deleting_says_the_agents_no_longer_see_it(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("删除我的聊天记录")
    done = await merchant.say("确认删除")
    assert done.responses == ["utter_forgotten"] and "看不到" in done.text


async def test_go_on_with_nothing_paused_is_never_a_bare_ok(talk: Talk) -> None:
    alone = await talk().say("继续")
    assert alone.responses == ["utter_nothing_to_resume"] and alone.buttons
    merchant = talk()
    await merchant.say("费率多少")
    after_answer = await merchant.say("继续")
    assert after_answer.responses == ["utter_what_now_more"], after_answer.responses
    assert (await talk().say("好的")).responses == ["utter_affirm_ack"]


async def test_the_state_asked_again_is_one_line_and_the_next_step(talk: Talk) -> None:
    merchant = talk()
    first = await merchant.say("帮我查下账户状态 1900000002 0002")
    assert "utter_state_restricted" in first.responses
    again = await merchant.say("我现在能收款吗？")
    assert again.responses == ["utter_state_again", "utter_state_next_step"], again.responses
    assert "不能收款" in again.text and "原因" not in again.text


async def test_a_website_named_at_the_first_advisor_question_is_not_a_digression(
        talk: Talk) -> None:
    merchant = talk()
    await merchant.say("帮我选收款方式")
    await merchant.say("1")
    early = await merchant.say("有网站")
    # Not the "no ICP filing" answer to a question nobody asked, and the step again.
    assert early.responses == ["utter_advisor_asked_later", "utter_remind_payer_location"], \
        early.responses
    both = talk()
    await both.say("帮我选收款方式")
    await both.say("1")
    reply = await both.say("都是外地客户，没网站")
    assert await both.slot("has_website_icp") is False
    assert reply.responses[-1] == "utter_ask_has_miniprogram", reply.responses


@pytest.mark.parametrize("declined", ["不用核对了", "不核对", "别核对了吧"])
async def test_declining_the_check_in_the_handoff_keeps_the_request(
        talk: Talk, declined: str) -> None:
    merchant = talk()
    await merchant.say("转人工")
    await merchant.say("收款被限制了三天了，申诉也没消息")
    reply = await merchant.say(declined)
    # The check is declined, not the person: the request goes on.
    assert "utter_form_stopped" not in reply.responses, reply.responses
    assert await merchant.slot("handoff_verify") is False
    assert await merchant.slot("handoff_problem")


async def test_a_complaint_at_the_verify_step_is_kept_for_the_agent(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("我要投诉你们，转人工")
    reply = await merchant.say("你们客服太慢了，我申诉了一个礼拜都没人理")
    assert "utter_hint_handoff_verify" not in reply.responses, reply.responses
    assert "一个礼拜" in (await merchant.slot("handoff_problem") or "")


async def test_local_customers_before_and_remote_ones_now_are_not_local(talk: Talk) -> None:
    merchant = talk()
    first = await merchant.say("我在老家做手工辣椒酱的 以前就卖给本地人 现在想卖到外省去 "
                               "用哪种收款方式好啊 网站我有是有但是还没备案")
    assert "utter_recommend_offline_qr" not in first.responses, first.responses


async def test_a_correction_after_a_recommendation_replaces_the_answer(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("帮我选收款方式")
    await merchant.say("1")
    local = await merchant.say("都是本地街坊")
    assert "utter_recommend_offline_qr" in local.responses
    await merchant.say("帮我选收款方式")
    corrected = await merchant.say("不是啊 我说了要卖外省 客户不来店里的 都是微信下单发快递")
    assert "utter_recommend_offline_qr" not in corrected.responses, corrected.responses
    assert await merchant.slot("payer_location") in ("remote", "both")
