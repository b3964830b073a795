"""One order of precedence in every state, through the trained model (issue 19): safety
first (an emergency answer when a code, a password or money is already gone, the
anti-scam warning when someone asks for them), then a person, then cancel / closing /
thanks, then an answer, then a digression; paths for people who are not the merchant;
ids typed in groups; thanks as typed; questions about how long data is kept.

Assertions are on what was said (response names, knowledge entries), the form and the
slots, never on the wording.
"""

from __future__ import annotations

import pytest

from tests.conversation import Conversation, Reply
from tests.dialogue.conftest import Talk, forget_reason

pytestmark = pytest.mark.dialogue

# How to reach a step of each form, and the answer that step accepts.
STEPS = {
    "merchant_id": (["帮我查一下账户状态"], "1900000002"),
    "phone_last4": (["帮我查一下账户状态", "1900000002"], "0002"),
    "appeal_category": (["我要申诉", "1900000002 0002"], "1"),
    "appeal_description": (["我要申诉", "1900000002 0002"],
                           "外地老客户扫店里的码买水果，都有聊天记录"),
    "appeal_confirm": (["我要申诉", "1900000002 0002", "外地老客户扫码买水果，有聊天记录",
                        "13800000002"], "确认"),
    "payer_location": (["外地客户怎么付款", "好"], "2"),
    "has_website_icp": (["外地客户怎么付款", "好", "2"], "2"),
}
FORM_OF = {"merchant_id": "verify_form", "phone_last4": "verify_form",
           "appeal_category": "appeal_form", "appeal_description": "appeal_form",
           "appeal_confirm": "appeal_form",
           "payer_location": "remote_advice_form", "has_website_icp": "remote_advice_form"}
FREE_TEXT = {"appeal_description"}
EMERGENCY = {"kb:scam_credentials_leaked", "kb:scam_already_paid",
             "utter_scam_emergency_again"}
WARNING = "utter_anti_scam"


def said(reply: Reply) -> list[str | None]:
    """Each bot message as its response name, or "kb:<entry>" for a knowledge answer."""
    entries = getattr(reply, "entries", None) or [None] * len(reply.responses)
    return [response or (f"kb:{entry}" if entry else None)
            for response, entry in zip(reply.responses, entries, strict=False)]


def hints(reply: Reply) -> list[str]:
    return [r for r in said(reply) if r and r.startswith("utter_hint_")]


def is_warning(name: str | None) -> bool:
    return name == WARNING or bool(name and name.startswith("kb:scam_"))


async def at_step(talk: Talk, slot: str) -> Conversation:
    if slot == "appeal_category":
        forget_reason("1900000002")  # else the account's reason fills the category in
    merchant = talk()
    for line in STEPS[slot][0]:
        await merchant.say(line)
    assert await merchant.slot("requested_slot") == slot, "setup did not reach the step"
    return merchant


# --- (a) safety inside every form ----------------------------------------------------------
@pytest.mark.parametrize("slot", list(STEPS))
async def test_a_fee_to_unfreeze_inside_a_form_gets_the_warning_first(
    talk: Talk, slot: str
) -> None:
    merchant = await at_step(talk, slot)
    reply = await merchant.say("有个顾问说交2000块就能帮我解封，加他微信就行")
    assert is_warning(said(reply)[0]), said(reply)
    assert not hints(reply)
    assert await merchant.active_form() == FORM_OF[slot]
    if slot in FREE_TEXT:
        return  # a story is a description; the warning came first
    # Not taken as the answer ("2000" is no phone digits); asked again, then taken.
    assert await merchant.slot(slot) is None
    await merchant.say(STEPS[slot][1])
    assert await merchant.slot("requested_slot") != slot


@pytest.mark.parametrize("slot", list(STEPS))
async def test_a_code_already_given_away_inside_a_form_is_an_emergency_then_the_form_waits(
    talk: Talk, slot: str
) -> None:
    merchant = await at_step(talk, slot)
    reply = await merchant.say("我把验证码给他了")
    assert said(reply)[0] == "kb:scam_credentials_leaked", said(reply)
    assert "utter_form_paused_for_safety" in said(reply)
    assert not hints(reply)
    assert await merchant.active_form() is None
    assert await merchant.slot("paused_form") == FORM_OF[slot]
    # "继续" comes back to the same step.
    await merchant.say("继续")
    assert await merchant.active_form() == FORM_OF[slot]
    assert await merchant.slot("requested_slot") == slot


@pytest.mark.parametrize("slot", ["merchant_id", "appeal_description", "has_website_icp"])
async def test_money_already_paid_inside_a_form_is_an_emergency(talk: Talk, slot: str) -> None:
    merchant = await at_step(talk, slot)
    reply = await merchant.say("已经转了2000给解封顾问，现在联系不上了")
    assert said(reply)[0] == "kb:scam_already_paid", said(reply)
    assert not hints(reply)
    assert await merchant.active_form() is None


async def test_the_emergency_said_again_is_short_not_the_same_block(talk: Talk) -> None:
    merchant = await at_step(talk, "merchant_id")
    first = await merchant.say("我把验证码给他了")
    assert said(first)[0] == "kb:scam_credentials_leaked"
    await merchant.say("继续")
    again = await merchant.say("刚才又把支付密码告诉对方了")
    assert said(again)[0] == "utter_scam_emergency_again"
    assert first.messages[0]["text"] != again.messages[0]["text"]


async def test_a_scam_message_with_the_answer_warns_and_takes_the_answer(talk: Talk) -> None:
    merchant = await at_step(talk, "merchant_id")
    reply = await merchant.say("有人说交500块就能解封，我的商户号是1900000002")
    # The answer to this scam (a fee to unfreeze), not only the general reminder.
    assert said(reply)[0] == "kb:scam_paid_unfreeze"
    assert await merchant.slot("requested_slot") == "phone_last4"


async def test_a_scam_and_a_person_warns_then_hands_over(talk: Talk) -> None:
    merchant = await at_step(talk, "phone_last4")
    reply = await merchant.say("有人让我把短信验证码发给他，是不是骗子，转人工")
    assert is_warning(said(reply)[0]), said(reply)
    assert "utter_form_waits_for_person" in said(reply)
    assert await merchant.slot("paused_form") == "verify_form"


async def test_a_person_comes_before_thanks(talk: Talk) -> None:
    merchant = await at_step(talk, "merchant_id")
    reply = await merchant.say("谢谢，转人工吧")
    assert "utter_form_waits_for_person" in said(reply)
    assert await merchant.active_form() == "handoff_form"


async def test_an_emergency_during_the_handoff_is_answered_and_the_request_kept(
    talk: Talk,
) -> None:
    merchant = talk()
    await merchant.say("转人工")
    reply = await merchant.say("我把验证码给他了")
    assert said(reply)[0] == "kb:scam_credentials_leaked", said(reply)
    assert "utter_form_paused_for_safety" not in said(reply)  # the handoff goes on
    assert "utter_pause_handoff_form" not in said(reply)



async def test_a_paid_promise_that_the_appeal_passes_gets_the_warning_inside_the_check(
        talk: Talk) -> None:
    merchant = await at_step(talk, "merchant_id")
    reply = await merchant.say("我问的是保证通过。还有个人说交500块就能包过，靠谱吗")
    assert is_warning(said(reply)[0]), said(reply)

# --- safety outside forms ------------------------------------------------------------------
@pytest.mark.parametrize(("text", "entry"), [
    ("我把验证码给他了", "kb:scam_credentials_leaked"),
    ("完了，刚才把支付密码告诉那个客服了", "kb:scam_credentials_leaked"),
    ("已经转了2000给解封顾问", "kb:scam_already_paid"),
    ("给那个顾问打了钱 他拉黑我了", "kb:scam_already_paid"),
])
async def test_an_emergency_outside_a_form_is_answered_first(
    talk: Talk, text: str, entry: str
) -> None:
    merchant = talk()
    reply = await merchant.say(text)
    assert said(reply)[0] == entry, said(reply)
    assert WARNING not in said(reply)  # the emergency, not the generic warning
    assert await merchant.active_form() is None


@pytest.mark.parametrize("text", ["我把验证码给骗子了，帮我查一下账户状态",
                                  "刚才把验证码告诉对方了，我要申诉"])
async def test_an_emergency_with_a_request_for_the_check_comes_first(
    talk: Talk, text: str
) -> None:
    """The emergency first, no question for the merchant id in the same breath; the
    check follows when asked again (or on "继续" if it had started)."""
    merchant = talk()
    reply = await merchant.say(text)
    assert said(reply)[0] == "kb:scam_credentials_leaked", said(reply)
    assert "utter_ask_merchant_id" not in said(reply)
    assert await merchant.active_form() is None
    follow = "继续" if await merchant.slot("paused_form") == "verify_form" else "帮我查一下账户状态"
    await merchant.say(follow)
    assert await merchant.slot("requested_slot") == "merchant_id"


async def test_a_scam_in_progress_outside_a_form_gets_the_warning(talk: Talk) -> None:
    merchant = talk()
    reply = await merchant.say("有个顾问说交2000块就能帮我解封")
    assert is_warning(said(reply)[0]), said(reply)


@pytest.mark.parametrize("text", ["有人说交钱就能解封，先帮我查一下账户状态",
                                  "有人让我加他微信说能解封，帮我查一下账户"])
async def test_a_scam_with_a_request_for_the_check_warns_first(talk: Talk, text: str) -> None:
    merchant = talk()
    reply = await merchant.say(text)
    assert is_warning(said(reply)[0]), said(reply)
    assert sum(is_warning(r) for r in said(reply)) == 1  # once, not twice
    if await merchant.active_form() is None:
        reply = await merchant.say("帮我查一下账户状态")
        assert not any(is_warning(r) for r in said(reply))
    assert await merchant.slot("requested_slot") == "merchant_id"


# --- (b)/(c) closing, thanks, ok inside forms ------------------------------------------------
@pytest.mark.parametrize("slot", list(STEPS))
async def test_a_closing_inside_a_form_is_acknowledged_and_the_form_waits(
    talk: Talk, slot: str
) -> None:
    merchant = await at_step(talk, slot)
    reply = await merchant.say("好的我明天打95017")
    closing = "utter_goodbye_paused_appeal" if FORM_OF[slot] == "appeal_form" \
        else "utter_goodbye_paused"
    # A goodbye, and no question after it ("要继续核对身份吗？" after "拜拜" is nagging).
    assert said(reply) == [closing], said(reply)
    assert await merchant.active_form() is None
    assert await merchant.slot("paused_form") == FORM_OF[slot]


@pytest.mark.parametrize("slot", ["merchant_id", "phone_last4", "appeal_category",
                                  "payer_location"])
@pytest.mark.parametrize("text", ["3Q", "多谢啦", "好滴谢谢"])
async def test_thanks_as_typed_inside_a_form_get_a_short_reply(
    talk: Talk, slot: str, text: str
) -> None:
    merchant = await at_step(talk, slot)
    reply = await merchant.say(text)
    assert said(reply) == ["utter_thank_short", f"utter_remind_{slot}"], said(reply)
    assert await merchant.active_form() == FORM_OF[slot]


async def test_ok_at_the_merchant_id_step_is_not_nagged(talk: Talk) -> None:
    merchant = await at_step(talk, "merchant_id")
    reply = await merchant.say("好滴")
    assert said(reply) == ["utter_remind_merchant_id"]
    second = await merchant.say("嗯嗯")
    assert not hints(second)
    assert "utter_pause_verify_form" in said(second)  # the second time: pause, not nag


async def test_ok_at_a_yes_no_step_is_never_a_hint(talk: Talk) -> None:
    merchant = await at_step(talk, "has_website_icp")
    reply = await merchant.say("好滴")
    assert not hints(reply)
    assert await merchant.active_form() == "remote_advice_form"


# --- 7. people who are not the merchant ------------------------------------------------------
@pytest.mark.parametrize(("text", "entries"), [
    ("我没有商户号", {"kb:no_merchant_id"}),
    ("我是个人用户，没开过商户", {"kb:no_merchant_id", "kb:appeal_personal_account"}),
    ("我是服务商", {"kb:sp_check_sub_status", "kb:sp_sub_merchant_restricted"}),
    ("我是开发，不是老板", None),
    ("我是香港商户", {"kb:wechat_pay_hk"}),
])
async def test_not_the_merchant_ends_the_identity_check_with_what_they_can_do(
    talk: Talk, text: str, entries: set[str] | None
) -> None:
    merchant = await at_step(talk, "merchant_id")
    reply = await merchant.say(text)
    first = said(reply)[0] or ""
    if entries is None:
        assert first.startswith("kb:dev_"), said(reply)
    else:
        assert first in entries, said(reply)
    assert not hints(reply)
    assert "utter_where_merchant_id" not in said(reply)
    assert await merchant.active_form() is None
    assert await merchant.slot("requested_slot") is None


async def test_a_customer_who_pays_is_not_asked_for_a_merchant_id(talk: Talk) -> None:
    merchant = await at_step(talk, "merchant_id")
    reply = await merchant.say("我不是商户，我是付钱的顾客")
    assert said(reply) == ["kb:payer_payment_failed"]  # what a customer needs to know
    assert await merchant.active_form() is None


async def test_no_merchant_id_before_a_handoff_goes_on_to_the_person(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("转人工")
    await merchant.say("我的收款码被限制了，顾客付不了钱")
    reply = await merchant.say("是")
    assert await merchant.active_form() == "verify_form", said(reply)
    reply = await merchant.say("我没有商户号")
    assert said(reply)[0] == "utter_verify_not_needed_for_person", said(reply)
    assert not hints(reply)
    assert "utter_where_merchant_id" not in said(reply)
    assert await merchant.active_form() in ("handoff_form", None)
    assert await merchant.slot("handoff_problem")  # the request is kept


async def test_a_personal_user_filing_an_appeal_gets_the_personal_appeal_path(
    talk: Talk,
) -> None:
    merchant = talk()
    await merchant.say("我要申诉")
    reply = await merchant.say("我是个人用户")
    assert said(reply)[0] == "kb:appeal_personal_account", said(reply)
    assert await merchant.active_form() is None


@pytest.mark.parametrize(("text", "prefix"), [
    ("我是服务商，帮子商户查一下状态", "kb:sp_"),
    ("我们服务商名下的子商户被限制了，帮我看看", "kb:sp_"),
    ("我是香港商户，收款被限制了，帮我查一下", "kb:wechat_pay_hk"),
    ("我是个人用户，帮我查下账户状态", "kb:no_merchant_id"),
])
async def test_not_the_merchant_is_not_pushed_into_the_identity_check(
    talk: Talk, text: str, prefix: str
) -> None:
    merchant = talk()
    reply = await merchant.say(text)
    assert any((r or "").startswith(prefix) for r in said(reply)), said(reply)
    assert "utter_ask_merchant_id" not in said(reply)
    assert "utter_report_abnormal" not in said(reply)
    assert await merchant.active_form() is None


async def test_a_service_provider_with_the_ids_can_still_check(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("我是服务商，帮子商户查一下状态")
    reply = await merchant.say("1900000002 0002")
    assert "utter_verified" in said(reply)


# --- 8. ids typed in groups, thanks as typed, data retention ---------------------------------
@pytest.mark.parametrize("merchant_id", ["1900 0000 02", "１９００　０００００２", "1900-0000-02"])
async def test_a_merchant_id_typed_in_groups_is_accepted(talk: Talk, merchant_id: str) -> None:
    merchant = await at_step(talk, "merchant_id")
    reply = await merchant.say(merchant_id)
    assert not hints(reply)
    assert await merchant.slot("requested_slot") == "phone_last4"
    verified = await merchant.say("0002")
    assert "utter_verified" in said(verified)


async def test_a_merchant_id_and_phone_digits_in_groups_in_one_message(talk: Talk) -> None:
    merchant = await at_step(talk, "merchant_id")
    reply = await merchant.say("1900 0000 02 0002")
    assert "utter_verified" in said(reply), said(reply)


async def test_a_merchant_id_in_groups_outside_a_flow_starts_the_check_with_it(
    talk: Talk,
) -> None:
    merchant = talk()
    await merchant.say("1900 0000 02")
    assert await merchant.slot("requested_slot") == "phone_last4"


@pytest.mark.parametrize("text", ["3Q", "3q", "多谢啦", "谢啦", "多谢多谢", "感恩", "辛苦了",
                                  "好滴谢谢"])
async def test_thanks_as_typed_outside_a_form(talk: Talk, text: str) -> None:
    merchant = talk()
    reply = await merchant.say(text)
    assert said(reply) == ["utter_thank"], said(reply)


async def test_ok_after_an_offer_is_still_a_yes(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("外地客户怎么付款")
    await merchant.say("好滴")
    assert await merchant.active_form() == "remote_advice_form"


@pytest.mark.parametrize("text", ["你们的聊天记录保存多久", "数据会存多久",
                                  "你们会一直保存我的记录吗", "我的数据你们会存多久"])
async def test_asking_how_long_data_is_kept_does_not_start_the_deletion(
    talk: Talk, text: str
) -> None:
    merchant = talk()
    reply = await merchant.say(text)
    assert "utter_confirm_forget" not in said(reply)
    assert said(reply) == ["kb:bot_data_retention"], said(reply)


async def test_deletion_is_still_asked_for_by_name(talk: Talk) -> None:
    merchant = talk()
    reply = await merchant.say("删除我的记录")
    assert said(reply) == ["utter_confirm_forget"]


async def test_a_scam_warning_is_not_followed_by_a_menu_offering_it_again(talk: Talk) -> None:
    reply = await talk().say("还有个人说交500块就能包过，靠谱吗")
    assert is_warning(said(reply)[0]), said(reply)
    assert "utter_kb_did_you_mean" not in said(reply)
