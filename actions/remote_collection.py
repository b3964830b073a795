"""Remote-collection advisor: a few questions, then one recommendation with reasons.

Only the questions that can still change the answer are asked, in this order:
where the payers are → website with ICP filing → mini-program → how urgent →
monthly volume. Answers stay in the conversation and are not asked again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import cn2an
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import FORM_STOP, SWITCH_TO, Answer, RepairingForm
from actions.guidance import bound_reason, warn_if_scam
from actions.repair import SKIP, Said
from core.choices import pick

ADVISOR_SLOTS = ["payer_location", "has_website_icp", "has_miniprogram", "urgency",
                 "monthly_volume"]

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


# Yes/no by the first clause ("有，无需备案" is a yes), when the model is unsure.
LEADING_NO = re.compile(r"^\s*我?(没|无|不是|不|否|还没|暂时没|no\b|n\b)", re.IGNORECASE)
LEADING_YES = re.compile(
    r"^\s*我?(有|是|对|嗯|好|可以|已经|已|做了|开通了|备案了|yes\b|y\b)", re.IGNORECASE
)
REMOTE_WORDS = re.compile(r"外地|异地|远程|全国|外省|网上|线上|快递|邮寄")
LOCAL_WORDS = re.compile(r"本地|店里|到店|当面|附近|门店|线下")
AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(万|w|千|k|元|块)?", re.IGNORECASE)
CHINESE_NUMBER = re.compile(r"[零一二两三四五六七八九十百千万]+")
UNITS = {"万": 10000, "w": 10000, "千": 1000, "k": 1000}


YES_WORDS = {"有", "有的", "有啊", "是", "是的", "对", "对的", "嗯", "嗯嗯", "已经有了", "早就有了"}
NO_WORDS = {"没", "没有", "无", "不是", "不", "否", "还没", "还没有", "暂时没有", "没呢"}
CLAUSE_END = re.compile(r"[，,。.！!；;、\s]")


def parse_yes_no(said: Said) -> Answer | None:
    """Numbered choice 1 = yes / 2 = no, a first clause that is a plain yes or no
    ("有，无需备案"), the affirm/deny intents, or a yes/no-like beginning (a guess)."""
    choice = pick(said.text, ["yes", "no"])
    if choice:
        return Answer(choice == "yes")
    if SKIP.search(said.text):
        return None  # "不确定" is not a no: the form explains how it counts it
    first_clause = CLAUSE_END.split(said.text.strip(), maxsplit=1)[0]
    if first_clause in YES_WORDS or first_clause in NO_WORDS:
        return Answer(first_clause in YES_WORDS)
    if said.intent in ("affirm", "deny") and said.confidence >= 0.6:
        return Answer(said.intent == "affirm")
    if LEADING_NO.match(said.text):
        return Answer(False, sure=False)
    if LEADING_YES.match(said.text):
        return Answer(True, sure=False)
    return None


def parse_payer_location(text: str) -> Answer | None:
    if text in ("local", "remote", "both"):
        return Answer(text)
    picked = pick(text, ["local", "remote", "both"])
    if picked:
        return Answer(picked)
    has_remote = bool(REMOTE_WORDS.search(text))
    has_local = bool(LOCAL_WORDS.search(text))
    if (has_remote and has_local) or re.search(r"都有|两种|两边", text):
        return Answer("both", sure=False)
    if has_remote:
        return Answer("remote", sure=False)
    if has_local:
        return Answer("local", sure=False)
    return None


def parse_urgency(text: str) -> Answer | None:
    if text in ("fast", "normal"):
        return Answer(text)
    picked = pick(text, ["fast", "normal"])
    if picked:
        return Answer(picked)
    if re.search(r"不急|不着急|可以等|慢慢|一两周|几周|一个月", text):
        return Answer("normal", sure=False)
    if re.search(r"急|马上|尽快|越快|今天|明天|这几天|立刻", text):
        return Answer("fast", sure=False)
    return None


def monthly_amount(text: str) -> float | None:
    """Yuan per month in "5万", "1.5w", "3000块", "两万", "八千左右", "一万二"; None when
    the text names no amount (a stray "一" in "一般" is not one)."""
    for match in AMOUNT.finditer(text):
        unit = (match.group(2) or "").lower()
        if unit or match.group(0).strip() == text.strip():
            return float(match.group(1)) * UNITS.get(unit, 1)
    for match in CHINESE_NUMBER.finditer(text):
        token = match.group(0)
        follows = text[match.end(): match.end() + 1]
        if not (set(token) & set("百千万") or follows in ("元", "块")):
            continue
        try:
            return float(cn2an.cn2an(token.replace("两", "二"), "smart"))
        except ValueError:
            continue
    return None


def parse_monthly_volume(text: str) -> Answer | None:
    if text in ("small", "medium", "large"):
        return Answer(text)
    picked = pick(text, ["small", "medium", "large"])
    if picked:
        return Answer(picked)
    amount = monthly_amount(text)
    if amount is None:
        return None
    if amount < 10000:
        return Answer("small")
    return Answer("medium" if amount <= 100000 else "large")


class ValidateRemoteAdviceForm(RepairingForm):
    slot_words = {
        "payer_location": re.compile(r"客户|付款的人|外地|本地"),
        "has_website_icp": re.compile(r"网站|备案"),
        "has_miniprogram": re.compile(r"小程序"),
        "urgency": re.compile(r"着急|急|多快"),
        "monthly_volume": re.compile(r"金额|收款量|每月|一个月|多少钱"),
    }
    pause_response = "utter_pause_remote_advice_form"

    def name(self) -> str:
        return "validate_remote_advice_form"

    def active_slots(self, tracker: Tracker, domain: DomainDict) -> list[str]:
        asked, _ = plan(Answers.of(tracker))
        return asked

    async def parse_payer_location(self, said: Said, tracker: Tracker) -> Answer | None:
        return parse_payer_location(said.text)

    async def parse_has_website_icp(self, said: Said, tracker: Tracker) -> Answer | None:
        return parse_yes_no(said)

    async def parse_has_miniprogram(self, said: Said, tracker: Tracker) -> Answer | None:
        return parse_yes_no(said)

    async def parse_urgency(self, said: Said, tracker: Tracker) -> Answer | None:
        return parse_urgency(said.text)

    async def parse_monthly_volume(self, said: Said, tracker: Tracker) -> Answer | None:
        return parse_monthly_volume(said.text)

    # "Not sure" has a safe reading for every question but the first.
    async def skip_has_website_icp(self, dispatcher: CollectingDispatcher,
                                   tracker: Tracker) -> dict[str, Any]:
        dispatcher.utter_message(response="utter_unsure_counts_as_no")
        return {"has_website_icp": False}

    async def skip_has_miniprogram(self, dispatcher: CollectingDispatcher,
                                   tracker: Tracker) -> dict[str, Any]:
        dispatcher.utter_message(response="utter_unsure_counts_as_no")
        return {"has_miniprogram": False}

    async def skip_urgency(self, dispatcher: CollectingDispatcher,
                           tracker: Tracker) -> dict[str, Any]:
        return {"urgency": "normal"}

    async def skip_monthly_volume(self, dispatcher: CollectingDispatcher,
                                  tracker: Tracker) -> dict[str, Any]:
        return {"monthly_volume": "medium"}

    async def on_task(
        self, intent: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any] | None:
        if intent in ("check_account_status", "report_account_abnormal", "submit_appeal",
                      "check_appeal_status"):
            # The identity check takes over; the advisor's answers wait for "继续".
            dispatcher.utter_message(response="utter_advisor_switch")
            return self._pause(dispatcher, announce=False, switch_to="verify_form")
        return None


class ActionRemoteIntro(Action):
    """Names the ways to collect from remote payers in two lines, then offers the advisor;
    a merchant restricted for remote QR collection hears why first."""

    def name(self) -> str:
        return "action_remote_intro"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        warn_if_scam(dispatcher, tracker)
        reason_code = await bound_reason(tracker)
        events: list[EventType] = []
        if reason_code == "remote_qr_collection":
            dispatcher.utter_message(response="utter_remote_from_restriction")
            events.append(SlotSet("payer_location", "remote"))
        dispatcher.utter_message(response="utter_remote_options")
        return events


class ActionRecommendCollection(Action):
    def name(self) -> str:
        return "action_recommend_collection"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        stop = tracker.get_slot(FORM_STOP)
        if stop:
            # Paused (answers kept, maybe another task first) or cancelled: already said.
            return [SlotSet(FORM_STOP, None), SlotSet(SWITCH_TO, tracker.get_slot(SWITCH_TO))]
        answers = Answers.of(tracker)
        _, option = plan(answers)
        if option is None:
            dispatcher.utter_message(response="utter_ask_remote_collection")
            return [SlotSet(SWITCH_TO, None)]
        dispatcher.utter_message(response=f"utter_recommend_{option}",
                                 why=reasons(answers, option))
        return [SlotSet("recommended_channel", option), SlotSet(SWITCH_TO, None)]
