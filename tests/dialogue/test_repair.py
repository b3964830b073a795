"""Conversation repair in every form, at every step (issue: never nag, never take a
question for an answer). Written the way worried merchants talk.

Every conversation also checks, through tests/conversation.py, that no template
variable is left unfilled and that no prompt closes three turns in a row.
"""

from __future__ import annotations

import pytest

from tests.conversation import Conversation
from tests.dialogue.conftest import Talk, forget_reason

pytestmark = pytest.mark.dialogue

# How to reach each step of each form, and the answer that step accepts.
STEPS = {
    "merchant_id": (["帮我查一下账户状态"], "1900000002"),
    "phone_last4": (["帮我查一下账户状态", "1900000002"], "0002"),
    "appeal_category": (["我要申诉", "1900000002 0002"], "1"),
    "appeal_description": (["我要申诉", "1900000002 0002"],
                           "外地老客户扫店里的码买水果，都有聊天记录"),
    "appeal_contact": (["我要申诉", "1900000002 0002", "外地老客户扫码买水果，有聊天记录"],
                       "13800000002"),
    "appeal_confirm": (["我要申诉", "1900000002 0002", "外地老客户扫码买水果，有聊天记录",
                        "13800000002"], "确认"),
    "payer_location": (["外地客户怎么付款", "好"], "2"),
    "has_website_icp": (["外地客户怎么付款", "好", "2"], "2"),
    "has_miniprogram": (["外地客户怎么付款", "好", "2", "2"], "2"),
    "urgency": (["外地客户怎么付款", "好", "2", "2", "2"], "2"),
    "monthly_volume": (["外地客户怎么付款", "好", "2", "2", "2", "2"], "5万"),
}
FORM_OF = {"merchant_id": "verify_form", "phone_last4": "verify_form",
           "appeal_category": "appeal_form", "appeal_description": "appeal_form",
           "appeal_contact": "appeal_form", "appeal_confirm": "appeal_form"}


async def at_step(talk: Talk, slot: str) -> Conversation:
    if slot == "appeal_category":
        forget_reason("1900000002")  # else the account's reason fills the category in
    merchant = talk()
    for line in STEPS[slot][0]:
        await merchant.say(line)
    assert await merchant.slot("requested_slot") == slot, "setup did not reach the step"
    return merchant


def form_of(slot: str) -> str:
    return FORM_OF.get(slot, "remote_advice_form")


# --- a digression at every step: answered, a brief re-ask, then the form goes on ------
@pytest.mark.parametrize("slot", list(STEPS))
async def test_question_at_every_step_is_answered_then_the_form_resumes(
    talk: Talk, slot: str
) -> None:
    merchant = await at_step(talk, slot)
    reply = await merchant.say("审核一般要多久啊？")
    assert reply.entries[0] == "appeal_review_time"  # answered from the knowledge base
    assert reply.responses[1:] == [f"utter_remind_{slot}"]
    assert await merchant.slot(slot) is None  # the question was not taken as the answer
    assert await merchant.active_form() == form_of(slot)
    await merchant.say(STEPS[slot][1])
    assert await merchant.slot("requested_slot") != slot  # the answer was taken


@pytest.mark.parametrize("slot", ["merchant_id", "appeal_category", "has_website_icp"])
async def test_thanks_in_the_middle_get_a_short_reply(talk: Talk, slot: str) -> None:
    merchant = await at_step(talk, slot)
    reply = await merchant.say("好的谢谢你")
    assert reply.responses in (["utter_thank_short", f"utter_remind_{slot}"],
                               [f"utter_hint_{slot}"])
    assert await merchant.active_form() == form_of(slot)


async def test_appeal_status_question_during_the_check_changes_what_comes_after(
    talk: Talk,
) -> None:
    merchant = await at_step(talk, "merchant_id")
    reply = await merchant.say("我的申诉进度怎么样了")
    assert reply.responses == ["utter_purpose_appeal_status", "utter_remind_merchant_id"]
    assert "还是" not in reply.text
    done = await merchant.say("1900000003 0003")
    assert done.responses[-1] == "utter_appeal_status" and "AP20261120001" in done.text


async def test_what_now_is_not_taken_for_a_wrong_merchant_id(talk: Talk) -> None:
    merchant = await at_step(talk, "merchant_id")
    reply = await merchant.say("那我现在该怎么办")
    assert "utter_hint_merchant_id" not in reply.responses
    assert "10位数字，比如" not in reply.text
    assert await merchant.active_form() in ("verify_form", None)


async def test_materials_question_at_the_description_step_gets_the_materials(
        talk: Talk) -> None:
    merchant = await at_step(talk, "appeal_description")
    reply = await merchant.say("申诉要准备什么材料")
    # The materials entry, in its variant for this merchant's own reason.
    assert reply.entries[0] == "appeal_materials"
    assert "异地" in reply.text or "外地" in reply.text
    assert reply.responses[-1] == "utter_remind_appeal_description"
    assert await merchant.slot("appeal_description") is None


async def test_worried_merchant_asking_four_questions_is_not_nagged(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("我的收款码被限制了")
    prompts = 0
    for question in ("为什么会这样", "钱安全吗", "要多久才能解", "手续费多少"):
        reply = await merchant.say(question)
        assert reply.entries[0] is not None  # each question answered (knowledge base)
        prompts += sum(r in ("utter_ask_merchant_id", "utter_remind_merchant_id")
                       for r in reply.responses)
    assert prompts <= 1  # asked again once, briefly; then the form paused
    assert await merchant.slot("paused_form") == "verify_form"


# --- don't nag: the second digression in a row pauses; coming back resumes -----------
@pytest.mark.parametrize(
    ("slot", "pause", "resume_word"),
    [
        ("phone_last4", "utter_pause_verify_form", "继续"),
        ("appeal_contact", "utter_pause_appeal_form", "继续"),
        ("urgency", "utter_pause_remote_advice_form", "好"),
    ],
)
async def test_second_digression_pauses_and_the_form_resumes_where_it_was(
    talk: Talk, slot: str, pause: str, resume_word: str
) -> None:
    merchant = await at_step(talk, slot)
    before = {name: await merchant.slot(name) for name in STEPS[slot][0][:0]}
    await merchant.say("钱会不会被扣掉")
    paused = await merchant.say("客服电话是多少")
    assert paused.responses[-1] == pause
    assert await merchant.active_form() is None
    free = await merchant.say("费率一般多少")
    assert free.entries == ["fee_rate"]  # no form prompt any more
    resumed = await merchant.say(resume_word)
    assert resumed.responses[0] == "utter_resume"
    assert await merchant.active_form() == form_of(slot)
    assert await merchant.slot("requested_slot") == slot  # where it was
    assert before == {name: await merchant.slot(name) for name in before}


async def test_paused_identity_check_resumes_with_the_merchant_id_kept(talk: Talk) -> None:
    merchant = await at_step(talk, "phone_last4")
    await merchant.say("为什么会被限制")
    await merchant.say("冻结的钱还能拿回来吗")
    assert await merchant.slot("merchant_id") == "1900000002"
    back = await merchant.say("查账户")
    assert back.responses[-1] == "utter_ask_phone_last4"
    assert "utter_verified" in (await merchant.say("0002")).responses


async def test_paused_appeal_resumes_from_the_intent_too(talk: Talk) -> None:
    merchant = await at_step(talk, "appeal_contact")
    await merchant.say("多久能审核完")
    await merchant.say("钱安全吗")
    back = await merchant.say("我要申诉")
    assert back.responses[-1] == "utter_ask_appeal_contact"
    assert await merchant.slot("appeal_category") == "remote_qr_collection"


async def test_goodbye_in_the_middle_pauses(talk: Talk) -> None:
    merchant = await at_step(talk, "appeal_description")
    reply = await merchant.say("先这样吧，拜拜")
    # A goodbye that says the content is kept, and no question after it.
    assert reply.responses == ["utter_goodbye_paused_appeal"]
    assert await merchant.active_form() is None
    assert await merchant.slot("paused_form") == "appeal_form"


# --- cancel and restart -----------------------------------------------------------------
@pytest.mark.parametrize("slot", ["phone_last4", "appeal_description", "has_miniprogram"])
async def test_cancel_stops_any_form(talk: Talk, slot: str) -> None:
    merchant = await at_step(talk, slot)
    reply = await merchant.say("算了，不弄了")
    assert reply.responses == ["utter_form_stopped"]
    assert await merchant.active_form() is None
    assert await merchant.slot("paused_form") is None
    after = await merchant.say("谢谢")
    assert after.responses == ["utter_thank"]


async def test_restart_starts_the_form_over(talk: Talk) -> None:
    merchant = await at_step(talk, "appeal_contact")
    reply = await merchant.say("重新来吧")
    assert reply.responses == ["utter_form_restart", "utter_ask_appeal_category"]
    assert await merchant.slot("appeal_description") is None


# --- corrections of any earlier answer ----------------------------------------------------
async def test_wrong_phone_corrected_at_the_confirmation(talk: Talk) -> None:
    merchant = await at_step(talk, "appeal_confirm")
    reply = await merchant.say("刚才的手机号说错了")
    assert reply.responses == ["utter_correction_ack", "utter_ask_appeal_contact"]
    summary = await merchant.say("13900001111")
    assert "139****1111" in summary.text and summary.responses == ["utter_ask_appeal_confirm"]


async def test_correction_with_the_new_value_in_the_same_message(talk: Talk) -> None:
    merchant = await at_step(talk, "appeal_confirm")
    reply = await merchant.say("类别选错了，应该是3")
    assert reply.responses[0] == "utter_correction_ack"
    assert await merchant.slot("appeal_category") == "high_frequency"
    assert reply.responses[-1] == "utter_ask_appeal_confirm"  # a new look at the summary
    assert "交易频繁被风控" in reply.text


async def test_advisor_answer_corrected_later(talk: Talk) -> None:
    merchant = await at_step(talk, "urgency")
    reply = await merchant.say("刚才说错了，我有小程序")
    assert await merchant.slot("has_miniprogram") is True
    assert "推荐：小程序收款通道" in reply.text


# --- "I don't know" where there is a way around ---------------------------------------------
async def test_dont_know_the_merchant_id(talk: Talk) -> None:
    merchant = await at_step(talk, "merchant_id")
    reply = await merchant.say("商户号在哪看啊")
    assert reply.responses == ["utter_where_merchant_id"]  # and no second question
    assert await merchant.slot("requested_slot") == "merchant_id"


async def test_forgot_the_phone(talk: Talk) -> None:
    merchant = await at_step(talk, "phone_last4")
    reply = await merchant.say("手机号忘了")
    assert reply.responses == ["utter_forgot_phone"] and "95017" in reply.text


async def test_description_i_dont_know_gets_help_then_a_way_around(talk: Talk) -> None:
    merchant = await at_step(talk, "appeal_description")
    helped = await merchant.say("不清楚")
    assert helped.responses == ["utter_description_help"]
    skipped = await merchant.say("真不知道怎么写")
    assert skipped.responses == ["utter_description_skipped", "utter_ask_appeal_contact"]


async def test_contact_skip_uses_the_bound_phone(talk: Talk) -> None:
    merchant = await at_step(talk, "appeal_contact")
    reply = await merchant.say("不想留")
    assert reply.responses == ["utter_contact_uses_bound_phone", "utter_ask_appeal_confirm"]
    assert "138****0002" in reply.text


async def test_advisor_not_sure_counts_as_no(talk: Talk) -> None:
    merchant = await at_step(talk, "has_website_icp")
    reply = await merchant.say("不确定")
    # Where to look the filing up comes with it.
    assert reply.responses == ["utter_unsure_site_filing", "utter_ask_has_miniprogram"]
    assert "备案管理系统" in reply.text


async def test_advisor_volume_in_chinese_numerals(talk: Talk) -> None:
    merchant = await at_step(talk, "monthly_volume")
    assert "推荐：持牌支付服务商的多通道收款码" in (await merchant.say("八千左右")).text


# --- misses: explained, then the ways out, then a person --------------------------------------
async def test_misses_are_explained_more_helpfully_each_time(talk: Talk) -> None:
    merchant = await at_step(talk, "merchant_id")
    assert (await merchant.say("123")).responses == ["utter_hint_merchant_id"]
    assert (await merchant.say("abc")).responses == ["utter_hint_ways_out",
                                                     "utter_remind_merchant_id"]
    stuck = await merchant.say("000")
    assert stuck.responses == ["utter_form_stuck"] and "95017" in stuck.text
    assert await merchant.slot("paused_form") == "verify_form"


# --- a person, and other tasks ---------------------------------------------------------------
async def test_asking_for_a_person_pauses_the_form_and_starts_the_handoff(talk: Talk) -> None:
    merchant = await at_step(talk, "appeal_category")
    reply = await merchant.say("转人工")
    assert reply.responses[0] == "utter_form_waits_for_person"
    assert await merchant.slot("paused_form") == "appeal_form"  # "继续" resumes it later
    # Verified already and the problem is known (the appeal): straight to the next step.
    assert reply.responses[-1].startswith(("utter_handoff_", "utter_ask_handoff_contact"))


async def test_account_question_inside_the_appeal_is_answered_on_the_spot(talk: Talk) -> None:
    merchant = await at_step(talk, "appeal_description")
    reply = await merchant.say("帮我查下账户状态")
    assert reply.responses[0] == "utter_state_restricted"
    assert reply.responses[-1] == "utter_remind_appeal_description"


async def test_advisor_hands_over_to_the_identity_check_and_resumes(talk: Talk) -> None:
    merchant = await at_step(talk, "has_miniprogram")
    reply = await merchant.say("帮我查一下账户状态")
    assert reply.responses[0] == "utter_advisor_switch"
    assert reply.responses[-1] == "utter_ask_merchant_id"
    await merchant.say("1900000001 0001")
    resumed = await merchant.say("继续")
    assert resumed.responses[-1] == "utter_ask_has_miniprogram"  # earlier answers kept
