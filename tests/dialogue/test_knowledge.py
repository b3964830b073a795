"""Answers from the knowledge base through the trained model, Rasa's policies and the
real actions: off-list questions, developers' errors, no verbatim repeats, "did you
mean" choices, the merchant's own case, and an edit answered without retraining."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.orm import Session

from core.db.session import get_engine
from core.knowledge import store
from core.knowledge.entries import load_directory, parse_entry
from tests.dialogue.conftest import Talk

pytestmark = pytest.mark.dialogue


@pytest.mark.parametrize(("question", "entry"), [
    ("商家助手提示要确认开户意愿，这是什么意思", "confirm_account_intent"),
    ("统一下单返回 err_code_des：此商家的收款功能已被限制，代码没改过", "dev_error_collection_limited"),
    ("我是服务商，名下一个特约商户被限制收款了，我能帮他做什么", "sp_sub_merchant_restricted"),
    ("支付宝的收款码被冻结了怎么办", "redirect_alipay"),
    ("结算周期突然变成T+7了是怎么回事", "settlement_delayed"),
])
async def test_off_list_questions_get_the_teams_entry(talk: Talk, question: str,
                                                      entry: str) -> None:
    reply = await talk().say(question)
    assert reply.intent == "knowledge" or entry.startswith("redirect_")
    assert entry in reply.entries


async def test_the_same_entry_is_never_said_twice(talk: Talk) -> None:
    merchant = talk()
    first = await merchant.say("费率是多少")
    assert first.entries == ["fee_rate"]
    again = await merchant.say("费率到底多少")
    assert again.text != first.text
    assert "fee_rate" not in again.entries
    assert again.entries[0] is not None or again.responses[0] in (
        "utter_kb_repeat", "utter_kb_repeat_more", "utter_kb_repeat_insist")


async def test_a_did_you_mean_choice_answers_that_entry(talk: Talk) -> None:
    reply = await talk().say('/knowledge{"kb_entry": "fee_rate_lower"}')
    assert reply.entries == ["fee_rate_lower"]


async def test_an_answer_chosen_again_from_the_buttons_is_given_again(talk: Talk) -> None:
    merchant = talk()
    first = await merchant.say('/knowledge{"kb_entry": "fee_rate_lower"}')
    again = await merchant.say('/knowledge{"kb_entry": "fee_rate_lower"}')
    assert "fee_rate_lower" in again.entries
    assert first.text in again.text and "说过了" not in again.text


async def test_a_verified_merchant_gets_the_variant_for_their_own_case(talk: Talk) -> None:
    anonymous = await talk().say("现在还能提现吗")
    merchant = talk()
    await merchant.say("查账户")
    await merchant.say("1900000003 0003")  # frozen, withdrawals blocked
    own = await merchant.say("现在还能提现吗")
    assert anonymous.entries == own.entries == ["funds_withdraw_now"]
    assert own.text != anonymous.text


async def test_an_edit_is_answered_within_seconds_without_retraining(
        talk: Talk, fresh_db: str) -> None:
    engine = get_engine(fresh_db)
    with Session(engine) as session, session.begin():
        store.sync(session, load_directory())
    fee = next(e for e in load_directory() if e.id == "fee_rate")
    edited = parse_entry({**fee.content(), "id": "fee_rate",
                          "answer": "费率以你签的合同为准（测试改过的答案）。"})
    new = parse_entry({
        "id": "test_parking_fee", "question": "停车场的扫码缴费码被限制了怎么办",
        "similar": ["停车场收费码用不了", "车场缴费码被限", "停车收费二维码限制收款",
                    "停车场收款码异常", "車場繳費碼被限制"],
        "answer": "停车场收费码受限（测试条目）。", "tags": ["restriction"]})
    with Session(engine) as session, session.begin():
        store.save_draft(session, edited, "test")
        store.publish(session, "fee_rate", author="test")
        store.save_draft(session, new, "test")
        store.publish(session, "test_parking_fee", author="test")
    changed = await talk().say("费率是多少")
    assert "测试改过的答案" in changed.text
    # bench/results/knowledge.md measures the delay on a quiet machine (target 5 s); here
    # it only has to come, also on a loaded 2-core machine (the index refit takes ~13 s).
    deadline = time.monotonic() + 40
    reply = None
    while time.monotonic() < deadline:
        reply = await talk().say("停车场的扫码缴费码被限制了怎么办")
        if reply.entries == ["test_parking_fee"]:
            break
        await asyncio.sleep(0.5)
    assert reply is not None and reply.entries == ["test_parking_fee"]


async def test_a_personal_user_gets_the_personal_answer_not_the_merchant_one(
        talk: Talk) -> None:
    merchant = await talk().say("客服电话多少")
    personal = talk()
    await personal.say("我是个人用户，没有商户号")
    reply = await personal.say("客服电话多少")
    assert merchant.entries == reply.entries == ["contact_support"]
    assert "营业执照" in merchant.text and "营业执照" not in reply.text


async def test_a_hong_kong_merchant_with_a_mainland_shop_gets_mainland_answers(
        talk: Talk) -> None:
    hk = talk()
    first = await hk.say("我係香港嘅商戶，用緊WeChat Pay HK，個賬戶收唔到錢，點算？")
    assert first.entries == ["wechat_pay_hk"]
    await hk.say("好，咁我喺深圳仲有間分店，用內地微信支付嘅商戶號，都俾人限制咗收款")
    reply = await hk.say("我想申訴，要準備咩文件？")
    assert "wechat_pay_hk" not in reply.entries
    assert "营业执照" in reply.text


async def test_a_hong_kong_merchant_is_not_given_mainland_rules(talk: Talk) -> None:
    hk = talk()
    first = await hk.say("我们是香港商户，用的是WeChat Pay HK")
    assert first.entries == ["wechat_pay_hk"]
    for question in ("结算延迟了要几天才恢复", "那客服电话是多少"):
        reply = await hk.say(question)  # mainland answers (T+1, 95017) do not apply
        assert reply.entries == ["wechat_pay_hk"], question
        assert reply.text != first.text and "95017" not in reply.text


async def test_a_named_platform_gets_its_own_redirect_in_a_long_story(talk: Talk) -> None:
    reply = await talk().say("我在淘宝和微信上都开店。淘宝那边今天提示资金被保护冻结，"
                             "微信这边暂时没事。淘宝被冻结会不会连累微信商户号？淘宝这边该找谁？")
    assert reply.entries == ["redirect_taobao"]


async def test_a_merchant_under_review_is_not_offered_another_appeal(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("查账户")
    await merchant.say("1900000003 0003")  # frozen, appeal AP20261120001 under review
    own = await merchant.say("现在还能提现吗")
    assert own.entries == ["funds_withdraw_now"]
    # The merchant's own answer (actions.capability) points at the appeal under review.
    assert "我要申诉" not in own.text and "AP20261120001" in own.text
