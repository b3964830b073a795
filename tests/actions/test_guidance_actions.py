"""FAQ answers, the anti-scam warning, the appeal coach, the advisor and "did you mean"."""

from __future__ import annotations

import pytest

from actions.guidance import ActionAnswerFaq, ActionAskAffirmation, looks_like_scam
from actions.remote_collection import (
    ActionRecommendCollection,
    ActionRemoteIntro,
    ValidateRemoteAdviceForm,
)
from actions.verification import ValidateVerifyForm
from tests.actions.conftest import RunAction, make_tracker

pytestmark = pytest.mark.usefixtures("merchant_db")


@pytest.mark.parametrize(
    "text",
    ["有人说交800块就能帮我解封", "花钱找人代解封靠谱吗", "客服让我把短信验证码发给他",
     "加我微信，内部渠道帮你解冻", "解封要交多少钱", "告诉我你的支付密码"],
)
def test_scam_signals_are_recognised(text: str) -> None:
    assert looks_like_scam(text)


@pytest.mark.parametrize("text", ["多久能解封", "申诉要什么材料", "客服电话多少", "费率多少"])
def test_ordinary_questions_are_not_scams(text: str) -> None:
    assert not looks_like_scam(text)


async def test_faq_answer_with_warning_first(run_action: RunAction, domain: dict) -> None:
    tracker = make_tracker(text="有人说交800块就能帮我解封，靠谱吗", intent="ask_unfreeze_time")
    turn = await run_action(ActionAnswerFaq(), tracker)
    assert turn.responses == ["utter_anti_scam", "utter_ask_unfreeze_time"]
    assert "不能保证" in turn.rendered(domain)


async def test_appeal_coach_adds_materials_for_the_verified_case(run_action: RunAction) -> None:
    verify = make_tracker({"requested_slot": "phone_last4"}, sender_id="coach",
                          extracted={"merchant_id": "1900000003", "phone_last4": "0003"},
                          active_loop="verify_form")
    await run_action(ValidateVerifyForm(), verify)
    turn = await run_action(ActionAnswerFaq(), make_tracker(
        text="怎么申诉", intent="ask_appeal_process", sender_id="coach"))
    assert turn.responses == ["utter_ask_appeal_process",
                              "utter_appeal_materials_instant_withdrawal"]
    anonymous = await run_action(ActionAnswerFaq(), make_tracker(
        text="怎么申诉", intent="ask_appeal_process", sender_id="stranger"))
    assert anonymous.responses == ["utter_ask_appeal_process"]


async def test_advisor_starts_from_the_remote_qr_restriction(run_action: RunAction) -> None:
    verify = make_tracker({"requested_slot": "phone_last4"}, sender_id="adv2",
                          extracted={"merchant_id": "1900000002", "phone_last4": "0002"},
                          active_loop="verify_form")
    await run_action(ValidateVerifyForm(), verify)
    turn = await run_action(ActionRemoteIntro(), make_tracker(sender_id="adv2"))
    assert turn.responses == ["utter_remote_from_restriction"]
    assert turn.slots == {"payer_location": "remote"}
    other = await run_action(ActionRemoteIntro(), make_tracker(sender_id="adv-new"))
    assert other.responses == ["utter_remote_intro"] and other.slots == {}


async def test_advisor_question_mid_form_is_answered(run_action: RunAction,
                                                     domain: dict) -> None:
    slots = {"requested_slot": "has_website_icp", "payer_location": "remote"}
    tracker = make_tracker(slots, text="手续费一般是多少", intent="ask_fee_rate",
                           extracted={"has_website_icp": "手续费一般是多少"},
                           active_loop="remote_advice_form")
    turn = await run_action(ValidateRemoteAdviceForm(), tracker)
    assert turn.responses == ["utter_ask_fee_rate"]
    assert turn.slots["has_website_icp"] is None
    assert turn.slots["requested_slot"] == "has_website_icp"


async def test_advisor_recommends_with_reasons(run_action: RunAction, domain: dict) -> None:
    slots = {"payer_location": "remote", "has_website_icp": True}
    turn = await run_action(ActionRecommendCollection(), make_tracker(slots))
    assert turn.responses == ["utter_recommend_website_api"]
    text = turn.rendered(domain)
    assert "理由" in text and "备案" in text and "合同" in text
    assert turn.slots == {"recommended_channel": "website_api"}


async def test_did_you_mean_offers_the_two_best_intents(run_action: RunAction) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.55},
               {"name": "ask_unfreeze_time", "confidence": 0.4},
               {"name": "greet", "confidence": 0.3},
               {"name": "ask_frozen_funds", "confidence": 0.2}]
    tracker = make_tracker(text="那个钱啥时候", intent="nlu_fallback", ranking=ranking)
    turn = await run_action(ActionAskAffirmation(), tracker)
    buttons = turn.messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == ["/ask_unfreeze_time", "/ask_frozen_funds",
                                               "/deny"]
    assert buttons[0]["title"].startswith("1 ")
