"""The identity check as the new users' run met it (issue 19), through the trained model:

1. a merchant id and the phone digits anywhere in a message (in a question, at any step,
   before any check was asked, after the check paused) are used: the check runs on them
   once, then the question is answered; only the id: only the digits are asked for;
2. amounts, dates, appeal numbers and hotlines are never the phone's digits;
3. "没有他手机号" gets the way on without the number, never the same prompt again;
   "不用查了" / a closing end the check politely;
4. a wrong suffix: "对不上" once with what to do, a restated "就是5678" is checked (and
   counted) again;
5. people who are not the merchant (staff, a service provider asking about its own
   account, a developer without the boss's phone) are not pushed into the check; staff
   asking for the account's data are told who can pass it.

Assertions are on what was said (response names, knowledge entries, the identity check's
own texts by their metadata key), the form and the slots, never on the wording.
"""

from __future__ import annotations

import pytest
from rasa.shared.core.events import BotUttered, UserUttered

from tests.conversation import Conversation
from tests.dialogue.conftest import Talk

pytestmark = pytest.mark.dialogue

PHONE_PROMPTS = {"utter_ask_phone_last4", "utter_remind_phone_last4", "utter_hint_phone_last4"}
FAILURES = {"id:failed", "id:failed_again", "id:failed_more", "utter_verify_failed"}


async def said(merchant: Conversation) -> list[str | None]:
    """What the bot said for the latest message: response names, "kb:<entry>" for a
    knowledge answer, "id:<key>" for the identity check's own texts."""
    events = list((await merchant.tracker()).events)
    last_user = max(i for i, e in enumerate(events) if isinstance(e, UserUttered))
    names: list[str | None] = []
    for event in events[last_user + 1:]:
        if isinstance(event, BotUttered):
            metadata = event.metadata or {}
            entry, own = metadata.get("knowledge_entry"), metadata.get("identity_reply")
            names.append(metadata.get("utter_action") or (f"kb:{entry}" if entry else None)
                         or (f"id:{own}" if own else None))
    return names


async def say(merchant: Conversation, text: str) -> list[str | None]:
    await merchant.say(text)
    return await said(merchant)


async def is_verified(merchant: Conversation) -> bool:
    """The sender is bound: the account is shown without a question for the id."""
    names = await say(merchant, "帮我查一下账户状态")
    return bool(names) and str(names[0]).startswith("utter_state_")


# --- 1. ids anywhere in a message --------------------------------------------------------------
@pytest.mark.parametrize(("text", "answer"), [
    ("我的申诉被驳回了，凭什么啊？？我1900000004，手机尾号0004", "utter_appeal_rejection_explained"),
    ("老板们好，我卖农产品的，外地客户扫我店里那个码付钱，结果昨天收款码提示被限制了，说什么异地交易风险？"
     "商户号1900000002 手机后四位0002", None),
    ("短信里没链接。我商户号1900000002 手机尾号0002 你帮我看看是不是真的", None),
])
async def test_ids_in_a_question_are_checked_first_then_the_question_is_answered(
    talk: Talk, text: str, answer: str | None
) -> None:
    merchant = talk()
    names = await say(merchant, text)
    assert names[0] == "utter_verified", names
    assert str(names[1]).startswith("utter_state_"), names  # the state, in one line
    assert len(names) >= 3, names  # ... and the question's own answer after it
    if answer:
        assert answer in names, names
    assert await is_verified(merchant)


async def test_ids_in_a_request_the_model_misses_show_the_account(talk: Talk) -> None:
    merchant = talk()
    names = await say(merchant, "我号是1900000004，尾号0004，你看看我这是延迟结算还是别的")
    assert names[:2] == ["utter_verified", "utter_state_risk_controlled"], names


async def test_only_the_id_in_a_question_asks_only_for_the_digits(talk: Talk) -> None:
    merchant = talk()
    names = await say(merchant, "1900000004 这个商户号的申诉为什么被驳回了？")
    # Only the digits are asked (inline, or by the check the question starts).
    assert {"id:ask_digits", "utter_ask_phone_last4"} & set(names), names
    assert "utter_ask_merchant_id" not in names
    names = await say(merchant, "0004")
    assert names[0] == "utter_verified", names


async def test_the_merchant_id_said_again_at_the_digits_step_is_kept(talk: Talk) -> None:
    """u2 c21: the id again at the digits step asked for the id again, then the digits."""
    merchant = talk()
    await merchant.say("查账户状态")
    await merchant.say("1900000001")
    names = await say(merchant, "1900000001")
    assert await merchant.slot("requested_slot") == "phone_last4"
    assert await merchant.slot("merchant_id") == "1900000001"
    assert "utter_hint_phone_last4" not in names  # it was an answer, not a miss
    assert (await say(merchant, "0001"))[0] == "utter_verified"


async def test_the_digits_before_the_id_are_kept(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("查账户状态")
    names = await say(merchant, "0002")
    assert "utter_hint_merchant_id" not in names, names
    assert await merchant.slot("phone_last4") == "0002"
    assert (await say(merchant, "1900000002"))[0] == "utter_verified"


async def test_digits_after_the_check_paused_for_a_leak_answer_the_step(talk: Talk) -> None:
    """u1 c25: "密码改好了。继续吧 0004" got a phishing block; the digits answer the step."""
    merchant = talk()
    await merchant.say("查一下我的商户 1900000004")
    await merchant.say("等一下先，我昨天在抖音上找了个说能帮忙解风控的，把商户平台的登录密码和支付密码都发给他了")
    assert await merchant.slot("paused_form") == "verify_form"
    names = await say(merchant, "密码改好了。继续吧 0004")
    assert names[:2] == ["utter_verified", "utter_state_risk_controlled"], names
    assert not any(str(n).startswith("kb:scam_") for n in names), names
    names = await say(merchant, "继续")  # the state is not shown twice
    assert not any(str(n).startswith("utter_state_") for n in names), names
    assert await merchant.active_form() is None


# --- 2. amounts, dates, appeal numbers, hotlines -----------------------------------------------
async def test_a_fee_at_the_merchant_id_step_is_not_the_digits(talk: Talk) -> None:
    """u1 c01: "收2800…先转一半" was read as the last 4 digits, then "对不上" twice."""
    merchant = talk()
    await merchant.say("查账户状态")
    names = await say(merchant, "等下，刚才有个加我微信的顾问说他能内部解冻，收2800手续费，先转一半，"
                                "这个靠谱吗？我商户号是1900000003")
    assert not FAILURES & set(names), names
    assert await merchant.slot("merchant_id") == "1900000003"
    assert await merchant.slot("requested_slot") == "phone_last4"
    names = await say(merchant, "我还没输手机号呢，2800是他要的钱。商户号1900000003")
    assert not FAILURES & set(names), names
    assert await merchant.slot("requested_slot") == "phone_last4"
    assert (await say(merchant, "0003"))[0] == "utter_verified"


@pytest.mark.parametrize("text", ["他说收2800就能弄好", "上次交了3000", "就转了1500呀",
                                  "工资5000都在里面"])
async def test_numbers_that_are_not_the_digits_are_never_checked(talk: Talk, text: str) -> None:
    merchant = talk(allow_repeats=True)
    await merchant.say("查账户状态")
    await merchant.say("1900000003")
    names = await say(merchant, text)
    assert not FAILURES & set(names), names
    assert "utter_verify_locked" not in names
    assert await merchant.slot("merchant_id") == "1900000003" or \
        await merchant.slot("paused_form") == "verify_form"


# --- 3. no phone for it; ending the check -------------------------------------------------------
async def test_no_phone_of_the_holder_gets_the_way_on_never_the_prompt_again(talk: Talk) -> None:
    """u1 c15, u2 c02: "没有他手机号" got the same prompt for the last 4 digits again."""
    merchant = talk()
    await merchant.say("查账户状态")
    await merchant.say("1900000002")
    names = await say(merchant, "我没有老板手机号")
    assert "id:no_phone" in names, names
    assert not PHONE_PROMPTS & set(names), names
    assert await merchant.active_form() is None
    again = await say(merchant, "我说了没有他手机号啊")
    assert "id:no_phone" not in again and not PHONE_PROMPTS & set(again), again


async def test_a_provider_without_the_sub_merchants_phone_is_not_asked_for_it(talk: Talk) -> None:
    merchant = talk(channel="wechat")
    await merchant.say("你好，我们是做餐饮SaaS的服务商，名下有十几个子商户同时被限制收款")
    names = await say(merchant, "那你这边能帮我查一下其中一个吗，子商户号1900000002，我没有他手机号")
    assert not PHONE_PROMPTS & set(names), names
    assert any(str(n).startswith(("kb:sp_", "id:")) for n in names), names
    assert await merchant.active_form() is None


async def test_forgetting_twice_ends_the_check_with_the_ways_to_find_it(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("查账户状态")
    await merchant.say("1900000003")
    assert await say(merchant, "手机号忘了") == ["utter_forgot_phone"]
    names = await say(merchant, "还是想不起来")
    assert names == ["id:forgot"], names
    assert await merchant.active_form() is None


@pytest.mark.parametrize("text", ["不用查了", "那不查了", "不用再核对了"])
async def test_no_need_to_check_ends_it_politely(talk: Talk, text: str) -> None:
    merchant = talk()
    await merchant.say("查账户状态")
    await merchant.say("1900000002")
    names = await say(merchant, text)
    assert names == ["utter_form_stopped"], names
    assert await merchant.active_form() is None


async def test_waiting_for_the_call_is_a_closing_not_a_miss(talk: Talk) -> None:
    """u2 c22: "好，那我等客服电话，谢谢" got the prompt for the digits."""
    merchant = talk()
    await merchant.say("查账户状态")
    await merchant.say("1900000002")
    names = await say(merchant, "好，那我等客服电话，谢谢")
    assert names[0] == "utter_goodbye_paused", names
    assert not PHONE_PROMPTS & set(names), names


# --- 4. a wrong suffix ---------------------------------------------------------------------------
async def test_a_wrong_suffix_in_a_question_is_said_once_with_what_to_do(talk: Talk) -> None:
    """u1 c13: the wrong suffix got "想不起手机号…", the restated one "没看懂"."""
    merchant = talk()
    names = await say(merchant, "我想查一下为啥提不了现 商户号1900000003 手机后四位5678")
    assert names == ["id:failed"], names
    names = await say(merchant, "5678")
    assert names == ["id:failed_again"], names  # checked (and counted) again, shorter
    assert (await say(merchant, "0003"))[0] == "utter_verified"


async def test_a_restated_suffix_at_the_step_is_checked_again(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("查账户状态")
    assert await say(merchant, "1900000003 5678") == ["id:failed"]
    assert await merchant.slot("merchant_id") == "1900000003"  # kept: only the digits again
    assert await merchant.slot("requested_slot") == "phone_last4"
    names = await say(merchant, "我没忘啊，就是5678")
    assert names == ["id:failed_again"], names
    assert (await say(merchant, "0003"))[0] == "utter_verified"


async def test_restated_suffixes_count_toward_the_lock_out(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("查账户状态")
    await merchant.say("1900000003 1111")
    for digits in ("2222", "3333", "4444"):
        assert FAILURES & set(await say(merchant, f"就是{digits}"))
    assert "utter_verify_locked" in await say(merchant, "就是5555")
    names = await say(merchant, "1900000003 0003")
    assert "utter_verified" not in names and "utter_verify_locked" in names, names


# --- 5. people who are not the merchant ------------------------------------------------------------
async def test_staff_reporting_a_problem_are_not_pushed_into_the_check(talk: Talk) -> None:
    """u1 c18: a cashier was asked for the merchant id three times."""
    merchant = talk()
    names = await say(merchant, "我是店里的收银员，店里收款码被限制了，顾客付不了钱")
    assert "id:staff" in names, names
    assert "utter_ask_merchant_id" not in names
    assert await merchant.active_form() is None


async def test_staff_asking_for_the_account_are_told_who_can_pass_the_check(talk: Talk) -> None:
    merchant = talk()
    names = await say(merchant, "我是店员，帮我查一下账户状态")
    assert names == ["id:staff_check"], names
    assert await merchant.slot("requested_slot") == "merchant_id"
    names = await say(merchant, "我不知道，老板没给我")
    assert "utter_where_merchant_id" not in names and "utter_ask_merchant_id" not in names
    assert await merchant.active_form() is None


async def test_staff_with_the_bosss_ids_can_pass_the_check(talk: Talk) -> None:
    merchant = talk()
    assert await say(merchant, "我是店员，帮我查一下账户状态") == ["id:staff_check"]
    assert (await say(merchant, "1900000001 0001"))[0] == "utter_verified"


async def test_a_provider_asking_about_its_own_account_gets_no_merchant_check(talk: Talk) -> None:
    """u2 c22: the provider's own id was taken for a merchant id and its digits asked."""
    merchant = talk(channel="wechat")
    await merchant.say("对了，能查到我们服务商号本身有没有被处罚吗？服务商号是1600001111")
    names = await say(merchant, "这是查子商户的。我问的是服务商自己的号有没有被处罚，去哪看？")
    assert "id:provider_account" in names, names
    assert not PHONE_PROMPTS & set(names), names
    assert await merchant.active_form() is None


async def test_a_developer_without_the_bosss_phone_gets_what_they_can_do(talk: Talk) -> None:
    merchant = talk()
    names = await say(merchant, "那你能帮我看下1900000001这个商户号现在是不是被处置了？"
                                "我是外包开发，没有老板手机号")
    assert any(str(n).startswith("kb:dev_") for n in names), names
    assert not PHONE_PROMPTS & set(names), names
    assert await merchant.active_form() is None
