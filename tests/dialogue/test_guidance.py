"""FAQ answers, the anti-scam warning, the appeal coach, the advisor and the fallback
stages, through the trained model and Rasa's policies."""

from __future__ import annotations

import pytest

from tests.dialogue.conftest import Talk

pytestmark = pytest.mark.dialogue


async def test_faq_answer_with_warning_first(talk: Talk) -> None:
    reply = await talk().say("有人说交800块就能帮我解封，靠谱吗")
    # The warning first: the generic one, or the safety entry that answers this very
    # question (issue 19: not both, one after the other).
    first = reply.responses[0] or f"kb:{reply.entries[0]}"
    assert first == "utter_anti_scam" or first.startswith("kb:scam_"), first
    assert "官方" in reply.messages[0]["text"]


async def test_support_call_guide(talk: Talk) -> None:
    reply = await talk().say("客服电话多少")
    assert "95017" in reply.text and "商户号" in reply.text and "人工" in reply.text


async def test_appeal_coach_adds_materials_for_the_verified_case(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("查账户")
    await merchant.say("1900000003 0003")
    coached = await merchant.say("怎么申诉")
    assert coached.entries == ["appeal_process", None]
    assert coached.responses == [None, "utter_appeal_materials_instant_withdrawal"]
    anonymous = await talk().say("怎么申诉")
    assert anonymous.entries == ["appeal_process"]


async def test_remote_question_names_the_options_then_offers_the_advisor(talk: Talk) -> None:
    merchant = talk()
    opening = await merchant.say("外地客户怎么给我付款")
    assert opening.responses == ["utter_remote_options"]
    assert all(word in opening.text for word in ("网站", "小程序", "收款码"))
    assert [b["payload"] for b in opening.buttons] == ["/affirm", "/deny"]
    assert await merchant.active_form() is None  # no question before the merchant wants one
    assert (await merchant.say("好")).responses == ["utter_ask_payer_location"]
    await merchant.say("2")
    advice = await merchant.say("有，网站备案了")
    assert "推荐：网站支付接口" in advice.text and "理由" in advice.text


@pytest.mark.parametrize(
    ("answers", "recommendation"),
    [
        (["2", "没有", "有小程序"], "推荐：小程序收款通道"),
        # "有，无需备案" is a website without the filing: no payment API (issue 19).
        (["外地的客户", "有，已经备案了"], "推荐：网站支付接口"),
        (["2", "没有", "没有", "不急", "两万"], "推荐：持牌支付服务商的多通道收款码"),
        (["2", "没有", "没有", "不急", "三十万"], "推荐：小程序收款通道"),
        (["3", "2", "2", "1"], "推荐：持牌支付服务商的多通道收款码"),
        (["1"], "继续用店里的经营收款码"),
    ],
)
async def test_advisor_recommendations(talk: Talk, answers: list[str],
                                       recommendation: str) -> None:
    merchant = talk()
    await merchant.say("異(yì)地的客人怎麼付錢給我")
    await merchant.say("好的")
    for answer in answers:
        reply = await merchant.say(answer)
    assert recommendation in reply.text


async def test_verified_remote_qr_merchant_hears_why_first(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("帮我查一下账户状态")
    await merchant.say("1900000002 0002")
    intro = await merchant.say("那外地客户以后怎么付款")
    assert intro.responses == ["utter_remote_from_restriction", "utter_remote_options"]
    started = await merchant.say("好")
    assert started.responses == ["utter_ask_has_website_icp"]  # payer location is known


async def test_fallback_is_worded_by_stage(talk: Talk) -> None:
    """The rule and the count of misses in a row (the wording with real rankings is
    tested on the action in tests/unit/test_fallback.py)."""
    merchant = talk()
    first = await merchant.say("/nlu_fallback")
    assert first.responses == ["utter_ask_rephrase"] and "还是" not in first.text
    assert (await merchant.say("/nlu_fallback")).responses == ["utter_ask_rephrase"]
    third = await merchant.say("/nlu_fallback")
    assert third.responses == ["utter_fallback_person"]
    assert "95017" in third.text and "人工" in third.text
    assert [b["payload"] for b in third.buttons] == ["/request_human"]
    # Understood again: the count starts over.
    await merchant.say("客服电话多少")
    assert (await merchant.say("/nlu_fallback")).responses == ["utter_ask_rephrase"]
