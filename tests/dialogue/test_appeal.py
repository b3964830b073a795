"""Filing and following appeals, through Rasa's own form logic."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import Appeal
from core.db.session import get_engine
from tests.dialogue.conftest import Talk, forget_reason

pytestmark = pytest.mark.dialogue


async def verified(talk: Talk, opening: str, merchant_id: str):  # type: ignore[no-untyped-def]
    merchant = talk()
    await merchant.say(opening)
    reply = await merchant.say(f"{merchant_id} {merchant_id[-4:]}")
    return merchant, reply


def appeals_of(db_url: str, merchant_id: str) -> int:
    with Session(get_engine(db_url)) as session:
        return session.execute(
            select(func.count(Appeal.id)).where(Appeal.merchant_id == merchant_id)
        ).scalar_one()


async def test_appeal_is_filed_once_with_a_masked_summary(talk: Talk, fresh_db: str) -> None:
    merchant, reply = await verified(talk, "我要申诉", "1900000002")
    # The account's own reason names the category: said, not asked.
    assert reply.responses[-2:] == ["utter_appeal_category_from_reason",
                                    "utter_ask_appeal_description"]
    assert "异地扫码收款被限制" in reply.text
    await merchant.say("外地的老客户扫店里的码买水果，都有聊天记录")
    summary = await merchant.say("13800000002")
    assert "138****0002" in summary.text and "13800000002" not in summary.text
    filed = await merchant.say("确认")
    appeal_id = re.search(r"AP\d{11}", filed.text).group(0)
    assert appeals_of(fresh_db, "1900000002") == 1

    again = await merchant.say("我要申诉")
    assert "utter_appeal_duplicate" in again.responses and appeal_id in again.text
    assert appeals_of(fresh_db, "1900000002") == 1

    lookup = await merchant.say(f"查一下申诉{appeal_id}的进度")
    assert appeal_id in lookup.text and "已提交" in lookup.text


async def test_bound_phone_is_used_on_request(talk: Talk) -> None:
    merchant, _ = await verified(talk, "我要申诉", "1900000002")
    await merchant.say("每天收了钱就提现给供货商，都是真实货款")
    summary = await merchant.say("用绑定手机")
    assert "138****0002" in summary.text


async def test_the_category_is_asked_when_the_reason_is_unknown(talk: Talk) -> None:
    forget_reason("1900000002")
    merchant, reply = await verified(talk, "我要申诉", "1900000002")
    assert reply.responses[-1] == "utter_ask_appeal_category"
    await merchant.say("2")
    assert await merchant.slot("appeal_category") == "instant_withdrawal"


async def test_a_category_filled_from_the_reason_can_be_changed(talk: Talk) -> None:
    merchant, _ = await verified(talk, "我要申诉", "1900000004")
    assert await merchant.slot("appeal_category") == "high_frequency"
    await merchant.say("每天收了钱就提现给供货商，都是真实货款")
    summary = await merchant.say("用绑定手机")
    assert "交易频繁被风控" in summary.text
    reply = await merchant.say("类别改成2")
    assert await merchant.slot("appeal_category") == "instant_withdrawal"
    assert reply.responses[-1] == "utter_ask_appeal_confirm" and "收款后马上提现被冻结" in reply.text


async def test_rejected_appeal_shows_the_reason_before_refiling(talk: Talk) -> None:
    _, reply = await verified(talk, "我要申诉", "1900000004")
    assert reply.responses[-3:] == ["utter_appeal_rejected_before",
                                    "utter_appeal_category_from_reason",
                                    "utter_ask_appeal_description"]
    assert "提交的材料不能证明交易真实" in reply.text


async def test_declined_confirmation_files_nothing(talk: Talk, fresh_db: str) -> None:
    merchant, _ = await verified(talk, "我要申诉", "1900000002")
    for answer in ("店里正常经营，突然就不能收款了", "13800000002"):
        await merchant.say(answer)
    declined = await merchant.say("不提交")
    assert declined.responses == ["utter_appeal_not_filed"]
    assert appeals_of(fresh_db, "1900000002") == 0
    status = await merchant.say("我的申诉进度呢")
    assert status.responses[-1] == "utter_appeal_none"


async def test_markup_in_the_description_is_echoed_as_text(talk: Talk) -> None:
    merchant, _ = await verified(talk, "我要申诉", "1900000002")
    await merchant.say("4")
    await merchant.say("<img src=x onerror=alert(1)> {{7*7}} ${7*7} 真实交易")
    summary = await merchant.say("13800000002")
    assert "<img src=x onerror=alert(1)> {{7*7}} ${7*7} 真实交易" in summary.text
    assert "49" not in summary.text
