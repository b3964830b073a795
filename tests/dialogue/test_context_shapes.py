"""Follow-ups that use what the assistant already knows (issue 19, shapes 5, 6 and 7),
through the trained model:

- a verified merchant under review asking what still works, whether part of the balance
  can come out, or how long "those 20,000" take gets their own account's answer, not the
  appeal status block again;
- the remote-collection advisor uses what the merchant said ("客人都是到店的": the shop's
  code is enough; "有网站但没备案": not asked again) and never lists the options twice;
- a WeChat Pay HK merchant asking whether 95017 helps is answered about 95017;
- "那我怎么办" right after an answer gets that answer's next step, not "没看懂".

Assertions are on response names, metadata keys, slots and the facts in the text.
"""

from __future__ import annotations

import pytest

from tests.conversation import Conversation
from tests.dialogue.conftest import Talk

pytestmark = pytest.mark.dialogue

STATUS_BLOCKS = {"utter_appeal_status", "utter_appeal_status_again", "utter_appeal_status_still",
                 "utter_appeal_status_brief", "utter_appeal_review_overdue",
                 "utter_appeal_review_in_time"}


async def verified_frozen(talk: Talk) -> Conversation:
    merchant = talk()
    await merchant.say("1900000003")
    reply = await merchant.say("0003")
    assert "utter_verified" in reply.responses
    return merchant


async def test_what_still_works_is_answered_from_the_account(talk: Talk) -> None:
    merchant = await verified_frozen(talk)
    collect = await merchant.say("现在还能收款吗")
    assert not STATUS_BLOCKS & set(collect.responses)
    assert "收不了款" in collect.text and "1900****03" in collect.text
    part = await merchant.say("那我能先提一部分出来吗")
    assert not STATUS_BLOCKS & set(part.responses)
    assert "一部分也不行" in part.text
    when = await merchant.say("那两万块提现要多久能到")
    assert not STATUS_BLOCKS & set(when.responses)
    assert "没法给你准确日期" in when.text and "AP20261120001" in when.text
    assert len({collect.text, part.text, when.text}) == 3


async def test_asking_what_works_again_and_again_ends_with_a_person(talk: Talk) -> None:
    merchant = await verified_frozen(talk)
    first = await merchant.say("还能提现吗")
    await merchant.say("能不能提现")
    third = await merchant.say("到底能不能提现啊")
    assert third.text != first.text and "转人工" in third.text


async def test_customers_who_come_to_the_shop_need_no_remote_option(talk: Talk) -> None:
    merchant = talk()
    reply = await merchant.say("我没有外地客户，客人都是到店的")
    assert "utter_recommend_offline_qr" in reply.responses
    assert "utter_remote_options" not in reply.responses
    assert await merchant.slot("payer_location") == "local"
    again = await merchant.say("那推荐我用哪种收款方式")
    assert "utter_remote_options" not in again.responses
    assert "utter_recommend_offline_qr" not in again.responses  # not the same block twice


async def test_the_options_are_not_listed_twice(talk: Talk) -> None:
    merchant = talk()
    first = await merchant.say("我想在外地也能收款，有什么办法")
    assert "utter_remote_options" in first.responses
    second = await merchant.say("外地客户付款有哪些方式")
    assert "utter_remote_options" not in second.responses
    assert "utter_remote_options_again" in second.responses
    assert second.buttons  # the advisor is still offered


async def test_what_was_said_before_the_advisor_is_not_asked_again(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("帮我选个远程收款方式，客户都在外地，我有个网站但是没备案")
    assert await merchant.slot("payer_location") == "remote"
    assert await merchant.slot("has_website_icp") is False
    reply = await merchant.say("好的")
    assert await merchant.active_form() == "remote_advice_form"
    assert "utter_ask_has_miniprogram" in reply.responses
    assert "utter_ask_payer_location" not in reply.responses
    assert "utter_ask_has_website_icp" not in reply.responses


async def test_a_hong_kong_merchant_asking_about_95017_is_answered_about_it(talk: Talk) -> None:
    merchant = talk()
    first = await merchant.say("我係香港商戶，收款被限制咗")
    assert "wechat_pay_hk" in first.entries
    phone = await merchant.say("打95017得唔得？")
    assert "95017是中国内地" in phone.text


async def test_what_now_after_an_answer_gets_its_next_step(talk: Talk) -> None:
    person = talk()
    await person.say("我是个人微信，不是商户，收了朋友转账后被限制收款了")
    reply = await person.say("那我怎么办")
    assert {"utter_what_now", "utter_what_now_more"} & set(reply.responses)
    assert "utter_ask_rephrase" not in reply.responses


async def test_what_now_with_nothing_answered_yet_is_not_guessed(talk: Talk) -> None:
    reply = await talk().say("那我怎么办")
    assert not {"utter_what_now", "utter_what_now_more"} & set(reply.responses)


def decide(url: str, kind: str, reason: str, materials: list[str]) -> None:
    """The back office records a decision on the seeded appeal AP20261120001."""
    import datetime as dt

    from sqlalchemy.orm import Session

    from core.db.appeal_events import DecisionKind, record_event
    from core.db.session import get_engine

    with Session(get_engine(url)) as session, session.begin():
        record_event(session, "AP20261120001", f"ev-{kind}", DecisionKind(kind), reason,
                     materials, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))


async def test_a_request_for_materials_is_told_at_once(talk: Talk, fresh_db: str) -> None:
    decide(fresh_db, "needs_materials", "收款用途说明不清楚", ["近30天的订单截图", "情况说明"])
    merchant = talk()
    await merchant.say("1900000003")
    reply = await merchant.say("0003")
    assert "近30天的订单截图" in reply.text and "待补充材料" in reply.text
    again = await merchant.say("申诉审核要多久")
    assert "近30天的订单截图" in again.text  # waiting for the merchant, not the reviewers
    assert "1到3个工作日" not in again.text


async def test_an_approval_from_the_back_office_is_the_answer(talk: Talk, fresh_db: str) -> None:
    decide(fresh_db, "approved", "材料核实无误", [])
    merchant = talk()
    await merchant.say("查申诉进度")
    await merchant.say("1900000003")
    reply = await merchant.say("0003")
    assert "已通过" in reply.text and "审核中" not in reply.text


@pytest.mark.parametrize("opening", ["我不是商家，就是普通人，微信收钱被限制了",
                                     "我係香港商戶，收款被限制咗"])
async def test_who_said_they_have_no_merchant_id_is_not_asked_for_one(
        talk: Talk, opening: str) -> None:
    person = talk()
    await person.say(opening)
    reply = await person.say("帮我查一下我的账户状态")
    assert "utter_ask_merchant_id" not in reply.responses
    assert await person.active_form() is None


@pytest.mark.parametrize("parting", ["行 我打95017催一下 谢谢", "好的我先整理快递单，整理好再来，谢谢",
                                     "好 我让老板自己登商家助手看 谢谢", "我没说信用卡啊。。算了 谢谢"])
async def test_a_parting_with_a_plan_is_thanked_not_answered_again(talk: Talk, parting: str) -> None:
    merchant = talk()
    await merchant.say("客服电话多少")
    reply = await merchant.say(parting)
    assert reply.intent == "thank"
    assert reply.responses == ["utter_thank"]


async def test_a_parting_inside_the_identity_check_does_not_nag(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("帮我查下账户状态")
    reply = await merchant.say("好吧我先问问老板，谢谢")
    assert "utter_ask_merchant_id" not in reply.responses
    assert "utter_remind_merchant_id" not in reply.responses


async def test_money_handed_over_with_thanks_is_still_an_emergency(talk: Talk) -> None:
    reply = await talk().say("好的，我已经转了2000保证金给他了，谢谢")
    assert reply.intent != "thank"
    assert "95017" in reply.text


async def test_a_correction_after_a_wrong_answer_is_not_told_it_was_said(talk: Talk) -> None:
    merchant = talk()
    first = await merchant.say("淘宝店铺资金被冻结了找谁")
    assert "redirect_taobao" in first.entries
    reply = await merchant.say("我说的是微信收款 不是淘宝")
    assert "utter_kb_repeat" not in reply.responses
    assert "redirect_taobao" not in reply.entries


async def test_a_merchant_whose_account_a_provider_opened_is_not_a_provider(talk: Talk) -> None:
    reply = await talk().say("你好 我是开烧烤店的 收款码突然收不了钱了 想查下怎么回事 "
                             "但是商户号是啥我不记得了 当时是服务商帮我开的")
    assert not any(str(e).startswith("sp_") for e in reply.entries if e)


async def test_a_wechat_merchant_is_not_sent_to_taobao(talk: Talk) -> None:
    reply = await talk().say("奶茶店 号被冻结 提现提不出来 急")
    assert "redirect_taobao" not in reply.entries


async def test_a_cancelled_check_is_not_started_again_for_a_general_question(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("帮我查下商户号1900000003的状态")
    stopped = await merchant.say("不继续了。我申诉是11月20号交的，到今天还没结果正常吗")
    assert "utter_form_stopped" in stopped.responses
    assert any(stopped.entries)  # and the question answered
    general = await merchant.say("申诉交了快两周没结果正常吗")
    assert "utter_ask_merchant_id" not in general.responses
    assert "utter_ask_phone_last4" not in general.responses
    assert any(general.entries)


@pytest.mark.parametrize("text", ["钱什么时候能提，申诉要多久",
                                  "商戶號被凍結了，錢甚麼時候能提？申訴又要多久"])
async def test_both_asks_of_one_message_are_answered(talk: Talk, text: str) -> None:
    reply = await talk().say(text)
    assert {"funds_release_time", "appeal_review_time"} <= set(reply.entries)
    assert "utter_kb_did_you_mean" not in reply.responses


async def test_a_second_ask_answered_before_is_not_said_again(talk: Talk) -> None:
    merchant = talk()
    first = await merchant.say("申诉一般要多久")
    assert "appeal_review_time" in first.entries
    reply = await merchant.say("95017怎么转人工？另外申诉要多久")
    assert "appeal_review_time" not in reply.entries


@pytest.mark.parametrize("text", [
    "我刚在一家店扫码付钱，提示商家收款受限，付不了，是我微信的问题还是店家的问题？我钱会不会被扣了",
    "我不是商家哈，我是买东西的，扫码一直付款失败",
])
async def test_a_payer_is_told_about_their_payment_not_asked_for_a_merchant_id(
        talk: Talk, text: str) -> None:
    reply = await talk().say(text)
    assert "utter_ask_merchant_id" not in reply.responses
    assert {"payer_payment_failed", "customer_cannot_pay"} & set(reply.entries)
    assert "扣钱" in reply.text or "退回" in reply.text


@pytest.mark.parametrize(("text", "entry"), [
    ("民宿哪来的快递单号 还有重新交以后多久出结果", "appeal_review_time"),
    ("我们开民宿的 没有快递单号怎么办 还有重新提交以后多久有结果", "appeal_transaction_proof"),
    ("天气好热啊。另外申诉交上去一般多久出结果", "appeal_review_time"),
])
async def test_an_ask_of_ours_in_a_message_that_reads_off_topic_is_answered(
        talk: Talk, text: str, entry: str) -> None:
    reply = await talk().say(text)
    assert entry in reply.entries
    assert "utter_out_of_scope" not in reply.responses


async def test_a_what_still_works_ask_beside_another_question_is_answered_too(
        talk: Talk) -> None:
    merchant = await verified_frozen(talk)
    reply = await merchant.say("那我现在还能收款吗？另外申诉要准备什么")
    assert "收不了款" in reply.text
    assert any(entry.startswith("appeal_") for entry in reply.entries)
