"""Shapes from the sixth new-user round (issue 19), through the trained model: a scam
told on another platform gets the warning and no redirect to that platform; a frozen
merchant who already saw the status and asks about the money is told the money is theirs;
a cashier is told what to tell the owner; a rejected merchant is told plainly that they
may resubmit, and that materials sent now would reach no appeal."""

from __future__ import annotations

import pytest

from tests.dialogue.conftest import Talk
from tests.dialogue.test_appeal import verified

pytestmark = pytest.mark.dialogue


async def test_a_scam_on_another_platform_is_a_warning_not_a_redirect(talk: Talk) -> None:
    reply = await talk().say("抖音上有个人说交1500块能帮我解封商户号，靠谱吗")
    assert reply.entries and str(reply.entries[0]).startswith("scam_"), reply.entries
    assert not any(str(e).startswith("redirect_") for e in reply.entries), reply.entries
    assert "抖音平台处理" not in reply.text
    # A question that is the platform's own still goes there.
    shop = await talk().say("淘宝店铺保证金怎么退")
    assert shop.entries == ["redirect_taobao"], shop.entries


async def test_the_money_after_the_status_is_not_the_status_again(talk: Talk) -> None:
    merchant, checked = await verified(talk, "我的店收款被冻结了", "1900000003")
    assert "utter_appeal_status" in checked.responses, checked.responses
    money = await merchant.say("这钱是不是没了 房租咋办")
    assert money.responses == ["utter_funds_wait_review"], money.responses
    assert "钱还是你的" in money.text and "95017" in money.text
    assert "AP20261120001" in money.text  # the appeal it waits for


async def test_a_cashier_is_told_what_to_tell_the_owner(talk: Talk) -> None:
    cashier = talk()
    first = await cashier.say("我是店里的收银员，顾客扫码付不了钱")
    assert first.entries == ["customer_cannot_pay"], first.entries
    assert "老板" in first.text and "你的账户" not in first.text
    assert "后4位" not in first.text  # no identity check for staff
    tell = await cashier.say("该怎么跟老板说")
    assert tell.entries == ["staff_tell_owner"], tell.entries
    assert "风险处理" in tell.text and "换绑" not in tell.text


async def test_a_rejected_merchant_may_resubmit_and_materials_wait_for_it(talk: Talk) -> None:
    merchant, _ = await verified(talk, "查申诉进度", "1900000004")
    again = await merchant.say("驳回了还能再申诉吗")
    assert "我要申诉" in again.text, again.text
    photos = await merchant.say("材料照片能直接发你吗")
    assert photos.entries == ["materials_send_here"], photos.entries
    assert "驳回" in photos.text and "我要申诉" in photos.text
    assert not photos.text.startswith("可以")


async def test_materials_before_any_appeal_are_not_promised_to_reach_one(talk: Talk) -> None:
    merchant, _ = await verified(talk, "查下账户", "1900000001")
    photos = await merchant.say("执照照片能直接发这儿吗")
    assert photos.entries == ["materials_send_here"], photos.entries
    assert "还没有审核中的申诉" in photos.text, photos.text
