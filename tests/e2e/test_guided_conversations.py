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
    servers.texts(user, "2")
    advice = servers.texts(user, "有，网站备案了")
    assert "推荐：网站支付接口" in advice and "理由" in advice and "合同" in advice


def test_mini_program_owner_gets_the_mini_program_channel(servers: Servers) -> None:
    user = sender()
    servers.texts(user, "異(yì)地的客人怎麼付錢給我")
    servers.texts(user, "外地的客户")
    servers.texts(user, "没有")
    assert "推荐：小程序收款通道" in servers.texts(user, "有小程序")


def test_verified_remote_qr_merchant_hears_why_first(servers: Servers) -> None:
    user = sender()
    servers.texts(user, "帮我查一下账户状态")
    servers.texts(user, "1900000002 0002")
    intro = servers.texts(user, "那外地客户以后怎么付款")
    assert "正是因为" in intro and "外地" in intro
    assert "付款客户主要在哪里" not in intro  # already known: not asked again
    assert "网站" in intro


def test_question_inside_the_advisor_is_answered_and_it_resumes(servers: Servers) -> None:
    user = sender()
    servers.texts(user, "外地客户怎么给我付款")
    servers.texts(user, "2")
    reply = servers.texts(user, "手续费一般是多少")
    assert "0.6%" in reply and "ICP备案吗" in reply


def test_cancel_stops_a_form(servers: Servers) -> None:
    user = sender()
    servers.texts(user, "我要申诉")
    assert "已停止" in servers.texts(user, "算了")
    assert "商户号" not in servers.texts(user, "谢谢")


def test_scam_offer_gets_a_warning(servers: Servers) -> None:
    reply = servers.texts(sender(), "有人说交800块就能帮我解封，靠谱吗")
    assert "只有官方渠道" in reply


def test_support_call_guide(servers: Servers) -> None:
    reply = servers.texts(sender(), "客服电话多少")
    assert "95017" in reply and "商户号" in reply and "人工" in reply


def test_correction_updates_the_merchant_id(servers: Servers) -> None:
    user = sender()
    servers.texts(user, "查下我的账户")
    servers.texts(user, "1900000002")
    servers.texts(user, "不对，是1900000003")
    assert "冻结" in servers.texts(user, "0003")
