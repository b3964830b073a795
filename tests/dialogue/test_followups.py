"""Context-aware follow-ups (issue 19): the verified merchant's own facts answer what
they make specific (the reviewers' note after a rejection, an overdue review and how to
chase it, withdrawals that still work, which appeal is meant), a repeated question never
gets the same block, and answers with negation or conditions are read as meant in the
advisor and the appeal confirmation.

Demo merchants (core/db/seed.py): 1900000002 restricted (remote QR) and can withdraw;
1900000003 frozen, appeal AP20261120001 reviewing since 2026-11-20 (overdue by now);
1900000004 appeal AP20261118002 rejected with a decision note."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import Appeal
from core.db.session import get_engine
from tests.conversation import Conversation
from tests.dialogue.conftest import Talk

pytestmark = pytest.mark.dialogue

DECISION_NOTE = "提交的材料不能证明交易真实"


async def verified(talk: Talk, merchant_id: str, opening: str = "帮我查一下账户状态",
                   **kwargs: object) -> tuple[Conversation, object]:
    merchant = talk(**kwargs)
    await merchant.say(opening)
    reply = await merchant.say(f"{merchant_id} {merchant_id[-4:]}")
    return merchant, reply


def appeals_of(db_url: str, merchant_id: str) -> int:
    with Session(get_engine(db_url)) as session:
        return session.execute(
            select(func.count(Appeal.id)).where(Appeal.merchant_id == merchant_id)
        ).scalar_one()


# --- the rejection reason ----------------------------------------------------------------


async def test_why_rejected_after_the_reason_is_shown_gets_the_note(talk: Talk) -> None:
    merchant, shown = await verified(talk, "1900000004")
    assert "utter_appeal_status" in shown.responses and DECISION_NOTE in shown.text
    why = await merchant.say("为什么被驳回")
    assert why.responses == ["utter_appeal_rejection_explained"]
    assert DECISION_NOTE in why.text and "AP20261118002" in why.text
    assert "95017" in why.text  # what to do next
    # Not the generic list of triggers.
    assert "utter_ask_abnormal_reason" not in why.responses
    again = await merchant.say("驳回原因是什么")
    assert again.responses == ["utter_appeal_rejection_again"] and DECISION_NOTE in again.text
    third = await merchant.say("为什么没通过")
    assert third.responses == ["utter_appeal_rejection_person"]
    assert [b["payload"] for b in third.buttons] == ["/request_human"]


async def test_why_rejected_without_verification_stays_general(talk: Talk) -> None:
    reply = await talk().say("为什么被驳回")
    assert "utter_appeal_rejection_explained" not in reply.responses
    assert DECISION_NOTE not in reply.text


# --- an overdue review -------------------------------------------------------------------


async def test_an_overdue_appeal_is_said_to_be_overdue_with_how_to_chase_it(
    talk: Talk
) -> None:
    merchant, status = await verified(talk, "1900000003", opening="查申诉进度")
    assert status.responses[-1] == "utter_appeal_status"
    assert "超时" in status.text and "95017" in status.text
    assert "请耐心等待" not in status.text
    how_long = await merchant.say("申诉都两个星期了还没结果怎么办")
    assert how_long.responses[-1] in ("utter_appeal_status_again", "utter_appeal_review_overdue")
    assert "95017" in how_long.text and "转人工" in how_long.text


async def test_review_time_question_for_an_overdue_appeal(talk: Talk) -> None:
    merchant, _ = await verified(talk, "1900000003", opening="我的账户被冻结了")
    reply = await merchant.say("申诉多久出结果")
    assert reply.responses[-1] in ("utter_appeal_review_overdue", "utter_appeal_status_again")
    assert "AP20261120001" in reply.text and "95017" in reply.text
    assert "1到3个工作日出结果，情况复杂" not in reply.text  # not the general answer


async def test_frozen_funds_with_an_overdue_appeal(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("我的钱能提现吗")
    await merchant.say("1900000003 0003")
    reply = await merchant.say("冻结的钱什么时候能提出来")
    # The merchant's own answer (actions.capability): no date promised, the overdue
    # appeal to chase; not the status block again.
    assert not {"utter_appeal_status", "utter_appeal_status_again"} & set(reply.responses)
    assert "AP20261120001" in reply.text and "95017" in reply.text
    assert "没法给你准确日期" in reply.text


# --- appeal status asked again and again ------------------------------------------------


async def test_appeal_status_three_times_is_never_the_same_block(talk: Talk) -> None:
    merchant, first = await verified(talk, "1900000003", opening="查申诉进度")
    second = await merchant.say("查申诉进度")
    third = await merchant.say("申诉进度呢")
    fourth = await merchant.say("我的申诉怎么还没结果")
    assert first.responses[-1] == "utter_appeal_status"
    assert second.responses == ["utter_appeal_status_again"]
    assert len(second.text) < len(first.messages[-1]["text"])  # shorter
    assert "95017" in second.text and "转人工" in second.text  # and the next step
    assert third.responses == ["utter_appeal_status_still"]
    assert [b["payload"] for b in third.buttons] == ["/request_human"]
    assert fourth.text != third.text


# --- what still works -------------------------------------------------------------------


async def test_withdrawals_that_still_work_are_said_to_work(talk: Talk) -> None:
    merchant, _ = await verified(talk, "1900000002")
    reply = await merchant.say("冻结的钱能拿出来吗")
    assert reply.responses == ["utter_funds_can_withdraw"]
    assert "还能提现" in reply.text and "审核通过后" not in reply.text
    again = await merchant.say("那钱什么时候能提出来")
    assert again.responses == ["utter_funds_can_withdraw_again"]


# --- which appeal is meant ----------------------------------------------------------------


async def test_right_after_filing_the_older_rejected_appeal_is_the_one_meant(
    talk: Talk, fresh_db: str
) -> None:
    merchant, reply = await verified(talk, "1900000004", opening="我要申诉")
    assert "utter_appeal_rejected_before" in reply.responses
    for answer in ("3", "双十一促销订单多，都有发货记录，已补充物流单号", "用绑定手机"):
        await merchant.say(answer)
    filed = await merchant.say("确认")
    new_id = re.search(r"AP\d{11}", filed.text).group(0)
    older = await merchant.say("之前被驳回的那个申诉呢")
    assert older.responses == ["utter_appeal_status"]
    assert "AP20261118002" in older.text and DECISION_NOTE in older.text
    assert new_id in older.text  # and the new one is under review: nothing to re-file
    assert "utter_appeal_duplicate" not in older.responses
    why = await merchant.say("为什么被驳回")
    assert why.responses == ["utter_appeal_rejection_explained"]
    assert "AP20261118002" in why.text and new_id in why.text
    newest = await merchant.say(f"查一下{new_id}")
    assert new_id in newest.text and "已提交" in newest.text
    assert appeals_of(fresh_db, "1900000004") == 2


# --- negation and conditions in the advisor --------------------------------------------


async def advisor(talk: Talk) -> Conversation:
    merchant = talk()
    await merchant.say("外地客户怎么给我付款")
    assert (await merchant.say("好")).responses == ["utter_ask_payer_location"]
    return merchant


@pytest.mark.parametrize("answer", ["有网站但没备案", "有是有但是没备案", "有，无需备案",
                                    "网站有，备案还在办"])
async def test_a_site_without_filing_never_gets_the_website_api(talk: Talk, answer: str) -> None:
    merchant = await advisor(talk)
    await merchant.say("2")
    reply = await merchant.say(answer)
    assert reply.responses[-1] == "utter_ask_has_miniprogram"
    assert await merchant.slot("has_website_icp") is False
    final = None
    for step in ("没有", "不急", "两万"):
        final = await merchant.say(step)
    assert "utter_recommend_website_api" not in final.responses
    assert await merchant.slot("recommended_channel") != "website_api"


async def test_continue_after_a_side_question_is_not_a_yes(talk: Talk) -> None:
    merchant = await advisor(talk)
    await merchant.say("2")
    side = await merchant.say("费率多少？")
    assert side.responses[-1] == "utter_remind_has_website_icp"
    reply = await merchant.say("继续")
    assert await merchant.slot("has_website_icp") is None
    assert "utter_recommend_website_api" not in reply.responses
    assert reply.responses[-1] in ("utter_hint_has_website_icp", "utter_ask_has_website_icp",
                                   "utter_remind_has_website_icp")


async def test_negated_answers_through_the_advisor(talk: Talk) -> None:
    merchant = await advisor(talk)
    await merchant.say("不是本地的")
    assert await merchant.slot("payer_location") == "remote"
    await merchant.say("还没")
    assert await merchant.slot("has_website_icp") is False
    await merchant.say("没有小程序但想做")
    assert await merchant.slot("has_miniprogram") is False
    await merchant.say("不是很急")
    assert await merchant.slot("urgency") == "normal"
    advice = await merchant.say("不到一万")
    assert await merchant.slot("monthly_volume") == "small"
    assert advice.responses == ["utter_recommend_multi_channel_code"]


async def test_a_miniprogram_without_payment_is_still_a_miniprogram(talk: Talk) -> None:
    merchant = await advisor(talk)
    await merchant.say("2")
    await merchant.say("没有")
    advice = await merchant.say("有是有但是没开通支付")
    assert advice.responses == ["utter_recommend_miniprogram"]


async def test_not_sure_is_counted_as_no_and_said_so(talk: Talk) -> None:
    merchant = await advisor(talk)
    await merchant.say("2")
    reply = await merchant.say("不确定")
    assert reply.responses[0] == "utter_unsure_site_filing"
    assert await merchant.slot("has_website_icp") is False


# --- negation and conditions in the appeal confirmation -----------------------------------


async def appeal_summary(talk: Talk) -> Conversation:
    merchant, _ = await verified(talk, "1900000002", opening="我要申诉")
    for answer in ("1", "外地的老客户扫店里的码买水果，都有聊天记录", "13800000002"):
        await merchant.say(answer)
    return merchant


async def test_no_change_then_submit_files_the_appeal(talk: Talk, fresh_db: str) -> None:
    merchant = await appeal_summary(talk)
    filed = await merchant.say("不用改了，提交")
    assert filed.responses[0] == "utter_appeal_filed"  # then the checklist
    assert appeals_of(fresh_db, "1900000002") == 1


@pytest.mark.parametrize("answer", ["不确定", "继续", "等一下", "好的，但我想再补充一点"])
async def test_unsure_or_conditional_confirmation_files_nothing(
    talk: Talk, fresh_db: str, answer: str
) -> None:
    merchant = await appeal_summary(talk)
    reply = await merchant.say(answer)
    assert "utter_appeal_filed" not in reply.responses
    assert "utter_appeal_not_filed" not in reply.responses  # asked again, answers kept
    assert appeals_of(fresh_db, "1900000002") == 0
    assert await merchant.active_form() == "appeal_form"


async def test_thinking_it_over_files_nothing(talk: Talk, fresh_db: str) -> None:
    merchant = await appeal_summary(talk)
    reply = await merchant.say("先不交，我再想想")
    assert reply.responses == ["utter_appeal_not_filed"]
    assert appeals_of(fresh_db, "1900000002") == 0
