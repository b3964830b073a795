"""The guided conversations of the assistant, end to end through REST."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.servers import Servers

pytestmark = pytest.mark.e2e


def sender() -> str:
    return f"guide-{uuid.uuid4().hex[:8]}"


def test_website_with_icp_gets_the_website_api(servers: Servers) -> None:
    user = sender()
    opening = servers.say(user, "外地客户怎么给我付款")
    assert any(m.get("buttons") for m in opening)  # web/REST: real buttons
    assert "付款客户主要在哪里" in servers.texts(user, "/affirm")  # the button's payload
    servers.texts(user, "2")
    advice = servers.texts(user, "有，网站备案了")
    assert "推荐：网站支付接口" in advice and "理由" in advice and "合同" in advice


def test_mini_program_owner_gets_the_mini_program_channel(servers: Servers) -> None:
    user = sender()
    servers.texts(user, "異(yì)地的客人怎麼付錢給我")
    servers.texts(user, "好的")
    servers.texts(user, "外地的客户")
    servers.texts(user, "没有")
    assert "推荐：小程序收款通道" in servers.texts(user, "有小程序")


def test_verified_remote_qr_merchant_hears_why_first(servers: Servers) -> None:
    user = sender()
    servers.texts(user, "帮我查一下账户状态")
    servers.texts(user, "1900000002 0002")
    intro = servers.texts(user, "那外地客户以后怎么付款")
    assert "正是因为" in intro and "外地" in intro and "网站" in intro
    started = servers.texts(user, "好")
    assert "付款客户主要在哪里" not in started  # already known: not asked again
    assert "ICP备案吗" in started


def test_question_inside_the_advisor_is_answered_and_it_resumes(servers: Servers) -> None:
    user = sender()
    servers.texts(user, "外地客户怎么给我付款")
    servers.texts(user, "好")
    servers.texts(user, "2")
    reply = servers.texts(user, "手续费一般是多少")
    assert "0.6%" in reply and "有备案过的网站吗" in reply  # answered, then asked briefly
    assert "推荐：网站支付接口" in servers.texts(user, "有")


def test_worried_merchant_is_answered_and_not_nagged(servers: Servers) -> None:
    """Four questions in a row during the identity check: each answered, the merchant id
    asked again once, briefly, then the check waits for the merchant."""
    user = sender()
    servers.texts(user, "我的收款码被限制了，怎么回事")
    replies = [servers.texts(user, q) for q in
               ("为什么会这样", "钱安全吗", "要多久才能解", "手续费多少")]
    assert "外地" in replies[0] and "不会因此被没收" in replies[1]
    assert "1到3个工作日" in replies[2] and "0.6%" in replies[3]
    asks = sum(text.count("商户号（10位数字）") for text in replies)
    assert asks == 1
    assert "要继续核对身份吗" in replies[1]
    resumed = servers.texts(user, "继续")
    assert "商户号" in resumed


def test_digression_and_correction_inside_the_appeal(servers: Servers) -> None:
    user = sender()
    servers.texts(user, "我要申诉")
    servers.texts(user, "1900000002")
    servers.texts(user, "0002")
    materials = servers.texts(user, "申诉要准备什么材料")
    assert "执照" in materials and "请回复 1、2、3 或 4" not in materials
    servers.texts(user, "外地老客户扫码买水果，都有聊天记录和快递单")
    servers.texts(user, "13800000002")
    fixed = servers.texts(user, "刚才的手机号说错了")
    assert "手机号" in fixed
    summary = servers.texts(user, "13900001111")
    assert "139****1111" in summary
    assert "已停止" in servers.texts(user, "算了")


def test_cancel_stops_a_form(servers: Servers) -> None:
    user = sender()
    servers.texts(user, "我要申诉")
    assert "已停止" in servers.texts(user, "算了")
    assert "商户号" not in servers.texts(user, "谢谢")


def test_fallback_never_says_still_on_the_first_miss(servers: Servers) -> None:
    first = servers.texts(sender(), "/nlu_fallback")
    assert "换个说法" in first and "还是" not in first


def test_scam_offer_gets_a_warning(servers: Servers) -> None:
    reply = servers.texts(sender(), "有人说交800块就能帮我解封，靠谱吗")
    assert "骗" in reply and "官方" in reply


def test_support_call_guide(servers: Servers) -> None:
    reply = servers.texts(sender(), "客服电话多少")
    assert "95017" in reply and "商户号" in reply and "人工" in reply


def test_correction_updates_the_merchant_id(servers: Servers) -> None:
    user = sender()
    servers.texts(user, "查下我的账户")
    servers.texts(user, "1900000002")
    servers.texts(user, "不对，是1900000003")
    assert "冻结" in servers.texts(user, "0003")
