"""Remote-collection advisor: a few questions, then one recommendation with reasons.

Only the questions that can still change the answer are asked, in this order:
where the payers are → website with ICP filing → mini-program → how urgent →
monthly volume. Answers stay in the conversation and are not asked again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import CancellableFormValidation
from actions.guidance import answer_question, bound_reason

ADVISOR_SLOTS = ["payer_location", "has_website_icp", "has_miniprogram", "urgency",
                 "monthly_volume"]

YES = re.compile(r"^\s*(1|有|是|对|嗯|有的|是的|对的|好|可以|yes|y)\b|有网站|有备案|已备案|有小程序|做了小程序|开通了")
NO = re.compile(r"^\s*(2|没|无|不|否|no|n)\b|没有|没做|没备案|还没|不是|无")
CHOICE = re.compile(r"^\s*第?\s*([1-3])\s*[个项.、)）]?\s*$")


@dataclass(frozen=True)
class Answers:
    payer_location: str | None = None  # local / remote / both
    has_website_icp: bool | None = None
    has_miniprogram: bool | None = None
    urgency: str | None = None  # fast / normal
    monthly_volume: str | None = None  # small / medium / large

    @classmethod
    def of(cls, tracker: Tracker) -> Answers:
        return cls(**{slot: tracker.get_slot(slot) for slot in ADVISOR_SLOTS})


def plan(answers: Answers) -> tuple[list[str], str | None]:
    """The questions that matter so far, and the recommendation once it is decided."""
    asked = ["payer_location"]
    if answers.payer_location is None:
        return asked, None
    if answers.payer_location == "local":
        return asked, "offline_qr"
    asked.append("has_website_icp")
    if answers.has_website_icp is None:
        return asked, None
    if answers.has_website_icp:
        return asked, "website_api"
    asked.append("has_miniprogram")
    if answers.has_miniprogram is None:
        return asked, None
    if answers.has_miniprogram:
        return asked, "miniprogram"
    asked.append("urgency")
    if answers.urgency is None:
        return asked, None
    if answers.urgency == "fast":
        return asked, "multi_channel_code"
    asked.append("monthly_volume")
    if answers.monthly_volume is None:
        return asked, None
    return asked, "miniprogram" if answers.monthly_volume == "large" else "multi_channel_code"


def reasons(answers: Answers, option: str) -> str:
    """Why this option, in the merchant's own terms."""
    parts = []
    if answers.payer_location in ("remote", "both"):
        parts.append("你有外地客户，店里的线下码不能再给他们扫")
    if option == "offline_qr":
        return "你的客户都是到店当面付款"
    if option == "website_api":
        parts.append("你已经有备案好的网站，接上支付接口费率低、风险也低")
    elif option == "miniprogram":
        if answers.has_miniprogram:
            parts.append("你已经有小程序，直接开通支付最省事")
        else:
            parts.append("你的收款量较大，做一个小程序商城长期更稳、更规范")
    elif option == "multi_channel_code":
        parts.append("没有网站和小程序" + ("，又急着用" if answers.urgency == "fast" else "")
                     + "，持牌服务商的收款码开通最快")
    return "；".join(parts)


def _yes_no(text: str) -> bool | None:
    if NO.search(text):
        return False
    if YES.search(text):
        return True
    return None


def _choice(text: str) -> str | None:
    match = CHOICE.match(text)
    return match.group(1) if match else None


def parse_payer_location(text: str) -> str | None:
    choice = _choice(text)
    if choice:
        return {"1": "local", "2": "remote", "3": "both"}[choice]
    has_remote = bool(re.search(r"外地|异地|远程|全国|外省|网上|线上|快递|邮寄", text))
    has_local = bool(re.search(r"本地|店里|到店|当面|附近|门店|线下", text))
    if (has_remote and has_local) or re.search(r"都有|两种|两边", text):
        return "both"
    if has_remote:
        return "remote"
    if has_local:
        return "local"
    return None


def parse_urgency(text: str) -> str | None:
    choice = _choice(text)
    if choice in ("1", "2"):
        return {"1": "fast", "2": "normal"}[choice]
    if re.search(r"不急|不着急|可以等|慢慢|一两周|几周|一个月", text):
        return "normal"
    if re.search(r"急|马上|尽快|越快|今天|明天|这几天|立刻", text):
        return "fast"
    return None


def parse_monthly_volume(text: str) -> str | None:
    choice = _choice(text)
    if choice:
        return {"1": "small", "2": "medium", "3": "large"}[choice]
    amount = re.search(r"(\d+(?:\.\d+)?)\s*(万|w|W|千|k|K)?", text)
    if not amount:
        return None
    value = float(amount.group(1))
    unit = amount.group(2) or ""
    value *= 10000 if unit in ("万", "w", "W") else 1000 if unit in ("千", "k", "K") else 1
    if value < 10000:
        return "small"
    return "medium" if value <= 100000 else "large"


class ValidateRemoteAdviceForm(CancellableFormValidation):
    def name(self) -> str:
        return "validate_remote_advice_form"

    async def form_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                         tracker: Tracker, domain: DomainDict) -> list[str]:
        asked, _ = plan(Answers.of(tracker))
        return asked

    @staticmethod
    def _validated(slot: str, parsed: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                   hint: str) -> dict[str, Any]:
        """Unparseable answers that are really questions get answered; the form then asks
        its question again."""
        if parsed is None and not answer_question(dispatcher, tracker):
            dispatcher.utter_message(text=hint)
        return {slot: parsed}

    async def validate_payer_location(self, value: Any, dispatcher: CollectingDispatcher,
                                      tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        parsed = value if value in ("local", "remote", "both") else parse_payer_location(
            str(value or ""))
        return self._validated("payer_location", parsed, dispatcher, tracker,
                               "回复 1（本地当面）、2（外地远程）或 3（两种都有）。")

    async def validate_has_website_icp(self, value: Any, dispatcher: CollectingDispatcher,
                                       tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        parsed = value if isinstance(value, bool) else _yes_no(str(value or ""))
        return self._validated("has_website_icp", parsed, dispatcher, tracker,
                               "回复 1（有）或 2（没有）。")

    async def validate_has_miniprogram(self, value: Any, dispatcher: CollectingDispatcher,
                                       tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        parsed = value if isinstance(value, bool) else _yes_no(str(value or ""))
        return self._validated("has_miniprogram", parsed, dispatcher, tracker,
                               "回复 1（有）或 2（没有）。")

    async def validate_urgency(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        parsed = value if value in ("fast", "normal") else parse_urgency(str(value or ""))
        return self._validated("urgency", parsed, dispatcher, tracker,
                               "回复 1（越快越好）或 2（可以等一两周）。")

    async def validate_monthly_volume(self, value: Any, dispatcher: CollectingDispatcher,
                                      tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        parsed = value if value in ("small", "medium", "large") else parse_monthly_volume(
            str(value or ""))
        return self._validated("monthly_volume", parsed, dispatcher, tracker,
                               "回复 1、2 或 3，或者直接说大概金额，比如“5万”。")


class ActionRemoteIntro(Action):
    """Opens the advisor; a merchant restricted for remote QR collection hears why first."""

    def name(self) -> str:
        return "action_remote_intro"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        reason_code = await bound_reason(tracker)
        if reason_code == "remote_qr_collection":
            dispatcher.utter_message(response="utter_remote_from_restriction")
            return [SlotSet("payer_location", "remote")]
        dispatcher.utter_message(response="utter_remote_intro")
        return []


class ActionRecommendCollection(Action):
    def name(self) -> str:
        return "action_recommend_collection"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        if tracker.get_slot("form_cancelled"):
            dispatcher.utter_message(response="utter_form_stopped")
            return [SlotSet("form_cancelled", None)]
        answers = Answers.of(tracker)
        _, option = plan(answers)
        if option is None:
            dispatcher.utter_message(response="utter_ask_remote_collection")
            return []
        dispatcher.utter_message(response=f"utter_recommend_{option}",
                                 why=reasons(answers, option))
        return [SlotSet("recommended_channel", option)]
