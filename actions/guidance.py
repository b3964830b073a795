"""Answers that do not need the merchant database: FAQ inside forms and the
"did you mean ...?" step of the two-stage fallback."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

# Intents answered by a plain response; inside a form the answer comes from here and
# the form resumes afterwards.
FAQ_RESPONSES = {
    "ask_abnormal_reason": "utter_ask_abnormal_reason",
    "contact_support": "utter_contact_support",
    "ask_appeal_process": "utter_ask_appeal_process",
    "ask_unfreeze_time": "utter_ask_unfreeze_time",
    "ask_frozen_funds": "utter_ask_frozen_funds",
    "ask_risk_prevention": "utter_ask_risk_prevention",
    "ask_remote_collection": "utter_ask_remote_collection",
    "ask_website_payment": "utter_ask_website_payment",
    "ask_miniprogram_payment": "utter_ask_miniprogram_payment",
    "ask_fee_rate": "utter_ask_fee_rate",
    "request_human": "utter_request_human",
    "bot_challenge": "utter_bot_challenge",
}

# Short names for the "did you mean" choices.
INTENT_TITLES = {
    "report_account_abnormal": "账户/收款码异常",
    "ask_abnormal_reason": "为什么被限制",
    "check_account_status": "查账户状态",
    "contact_support": "客服电话",
    "ask_appeal_process": "怎么申诉",
    "submit_appeal": "提交申诉",
    "check_appeal_status": "查申诉进度",
    "ask_unfreeze_time": "多久能解除",
    "ask_frozen_funds": "冻结的钱怎么办",
    "ask_risk_prevention": "怎么避免再被限制",
    "ask_remote_collection": "异地收款",
    "ask_website_payment": "网站支付接口",
    "ask_miniprogram_payment": "小程序收款",
    "ask_fee_rate": "费率",
    "request_human": "找人工",
}


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        dispatcher.utter_message(response=FAQ_RESPONSES.get(intent, "utter_ask_rephrase"))
        return []


class ActionAskAffirmation(Action):
    """First stage of the fallback: offer the two most likely meanings as choices."""

    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        candidates = [
            item["name"] for item in ranking if item.get("name") in INTENT_TITLES
        ][:2]
        if not candidates:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        buttons = [
            {"title": f"{number} {INTENT_TITLES[name]}", "payload": f"/{name}"}
            for number, name in enumerate(candidates, start=1)
        ]
        buttons.append({"title": f"{len(buttons) + 1} 都不是", "payload": "/deny"})
        dispatcher.utter_message(text="你是想问下面哪一个？", buttons=buttons)
        return []
