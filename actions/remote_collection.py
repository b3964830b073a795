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

from actions.common import latest_text
from actions.forms import FORM_STOP, REPAIR_STATE, SWITCH_TO, Answer, RepairingForm
from actions.guidance import bound_reason, warn_if_scam
from actions.knowledge import answer_other_asks
from actions.repair import Said
from core import answers
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
        # "不确定备案了没", "有是有但是还没上线": not "没有", only not usable yet.
        parts.append("眼下还没有能用的备案网站和小程序" + ("，又急着用" if answers.urgency == "fast" else "")
                     + "，持牌服务商的收款码开通最快")
    return "；".join(parts)


# The readers themselves (negation and conditions, one per question) are in
# core.answers; here they become the form's answers. A reading is sure when the merchant
# picked a number or a button, answered with a plain yes/no word, or named the question's
# topic ("有网站但没备案"); otherwise it is a guess that yields to another topic.
TOPICS = {
    "has_website_icp": re.compile(r"网站|网页|官网|备案|icp", re.IGNORECASE),
    "has_miniprogram": re.compile(r"小程序|商城"),
    "payer_location": re.compile(r"^$"),  # locations are always a guess ("外地客户怎么办")
    "urgency": re.compile(r"急|等|快|慢|时间"),
    "monthly_volume": re.compile(r"\d|[一二两三四五六七八九十百千万]|多少|几"),
}


def _answer(value: Any, said: Said, topic: str) -> Answer | None:
    if value is None or value is answers.UNSURE:
        return None  # "不确定": the form's not-sure path says how it counts
    text = answers.normalize(said.text)
    sure = (pick(text, ["1", "2", "3"]) is not None or said.text.startswith("/")
            or text in answers.YES_WORDS or text in answers.NO_WORDS
            or bool(TOPICS[topic].search(text)))
    return Answer(value, sure=sure)


def parse_yes_no(said: Said) -> Answer | None:
    """A generic yes/no (numbered choice 1 = yes / 2 = no, a plain first clause: "有，
    无需备案" is a yes); "继续" and "好的" are not answers, "不确定" is not a no."""
    value = answers.read_yes_no(said.text, said.intent, said.confidence)
    if value is None or value is answers.UNSURE:
        return None
    text = answers.normalize(said.text)
    first = answers.first_clause(text)
    sure = (pick(text, ["yes", "no"]) is not None or said.text.startswith("/")
            or first in answers.YES_WORDS or first in answers.NO_WORDS)
    return Answer(value, sure=sure)


def parse_website_icp(said: Said) -> Answer | None:
    """"有网站但没备案" is a sure no: only a filed website leads to the payment API."""
    return _answer(answers.read_website_icp(said.text, said.intent), said, "has_website_icp")


def parse_miniprogram(said: Said) -> Answer | None:
    return _answer(answers.read_miniprogram(said.text, said.intent), said, "has_miniprogram")


def parse_payer_location(text: str) -> Answer | None:
    value = answers.read_payer_location(text)
    if value is None or value is answers.UNSURE:
        return None
    exact = text in ("local", "remote", "both") or pick(text, ["1", "2", "3"]) is not None
    return Answer(value, sure=exact)


def parse_urgency(text: str) -> Answer | None:
    value = answers.read_urgency(text)
    if value is None or value is answers.UNSURE:
        return None
    exact = text in ("fast", "normal") or pick(text, ["1", "2"]) is not None
    return Answer(value, sure=exact or bool(TOPICS["urgency"].search(text)))


def monthly_amount(text: str) -> float | None:
    """Yuan per month in "5万", "1.5w", "3000块", "两万", "八千左右", "一万二"."""
    return answers.monthly_amount(text)


def parse_monthly_volume(text: str) -> Answer | None:
    value = answers.read_monthly_volume(text)
    if value is None or value is answers.UNSURE:
        return None
    return Answer(value)


class ValidateRemoteAdviceForm(RepairingForm):
    slot_words = {
        "payer_location": re.compile(r"客户|付款的人|外地|本地"),
        "has_website_icp": re.compile(r"网站|备案"),
        "has_miniprogram": re.compile(r"小程序"),
        "urgency": re.compile(r"着急|急|多快"),
        "monthly_volume": re.compile(r"金额|收款量|每月|一个月|多少钱"),
    }
    pause_response = "utter_pause_remote_advice_form"
    # "都是外地的，没网站" at the first question answers the website one too.
    any_step_slots = frozenset({"has_website_icp", "has_miniprogram"})

    def name(self) -> str:
        return "validate_remote_advice_form"

    async def _answers_elsewhere(self, requested: str, said: Said,
                                 tracker: Tracker) -> dict[str, Any]:
        # At another step only an answer naming its own topic counts: "没有网站" says
        # nothing about a mini-program.
        found = await super()._answers_elsewhere(requested, said, tracker)
        text = answers.normalize(said.text)
        return {slot: value for slot, value in found.items() if TOPICS[slot].search(text)}

    async def _digress(self, said: Said, dispatcher: CollectingDispatcher,
                       tracker: Tracker) -> dict[str, Any]:
        """"有网站" at the first question is a fact for a later one, not a question about
        websites: noted as coming, and this step again."""
        text = answers.normalize(said.text)
        if not said.is_question and any(
                TOPICS[slot].search(text) for slot in ("has_website_icp", "has_miniprogram")):
            dispatcher.utter_message(response="utter_advisor_asked_later")
            return {REPAIR_STATE: "remind"}
        return await super()._digress(said, dispatcher, tracker)

    def active_slots(self, tracker: Tracker, domain: DomainDict) -> list[str]:
        asked, _ = plan(Answers.of(tracker))
        return asked

    async def on_start(
        self, said: Said, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """What the merchant already said ("你直接推荐一个吧 我没网站 没小程序", typed at
        the offer) is not asked again; what this very message says replaces an earlier
        answer ("不是啊 我说了要卖外省" after a recommendation for local customers)."""
        now = stated_facts(tracker, latest_only=True)
        return {slot: value for slot, value in stated_facts(tracker).items()
                if tracker.get_slot(slot) is None or slot in now}

    async def parse_payer_location(self, said: Said, tracker: Tracker) -> Answer | None:
        return parse_payer_location(said.text)

    async def parse_has_website_icp(self, said: Said, tracker: Tracker) -> Answer | None:
        return parse_website_icp(said)

    async def parse_has_miniprogram(self, said: Said, tracker: Tracker) -> Answer | None:
        return parse_miniprogram(said)

    async def parse_urgency(self, said: Said, tracker: Tracker) -> Answer | None:
        return parse_urgency(said.text)

    async def parse_monthly_volume(self, said: Said, tracker: Tracker) -> Answer | None:
        return parse_monthly_volume(said.text)

    async def after_answers(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") == "has_website_icp" and \
                tracker.get_slot("has_website_icp") is False and \
                answers.site_without_filing(Said.of(tracker).text):
            # "有网站但没备案": say why the website API is out before the next question.
            dispatcher.utter_message(response="utter_advisor_site_not_filed")
        return {}

    # "Not sure" has a safe reading for every question but the first.
    async def skip_has_website_icp(self, dispatcher: CollectingDispatcher,
                                   tracker: Tracker) -> dict[str, Any]:
        # With where to look the filing up: a filed site is the cheapest way.
        dispatcher.utter_message(response="utter_unsure_site_filing")
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


def said_before(tracker: Tracker, response: str) -> bool:
    """``response`` was already sent in this session."""
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            return False
        if event.get("event") == "bot" and (event.get("metadata") or {}).get(
                "utter_action") == response:
            return True
    return False


def stated_facts(tracker: Tracker, latest_only: bool = False) -> dict[str, Any]:
    """What the merchant already said in this session about the advisor's questions
    ("我没有外地客户", "有网站但没备案"), latest first; only statements that name the
    question's topic count, so a bare "没有" answers nothing here. Within one message,
    local and remote customers in different clauses ("以前就卖给本地人 现在想卖到外省去")
    are both."""
    found: dict[str, Any] = {}
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        if event.get("event") != "user":
            continue
        text = str(event.get("text") or "")
        if text.startswith("/"):
            # A button; a choice typed in words may state facts too ("你直接推荐一个吧
            # 我没网站 没小程序" picked "帮我挑一个").
            text = str(((event.get("metadata") or {}).get("choice") or {}).get("typed") or "")
            if not text:
                continue
        # The whole message first ("没有外地客户，就是想线上收款" is remote), then clause
        # by clause: "客户都在外地，有网站但没备案，怎么收款" states two facts in a question.
        here: dict[str, Any] = {}
        locations: set[str] = set()
        for index, clause in enumerate([text, *clauses(text)]):
            for slot, value in _stated(clause).items():
                if value is None or value is answers.UNSURE:
                    continue
                if slot == "payer_location" and index and "payer_location" not in here:
                    locations.add(value)  # the whole message said nothing of it
                    continue
                here.setdefault(slot, value)
        if locations:
            here.setdefault("payer_location",
                            "both" if len(locations) > 1 else locations.pop())
        for slot, value in here.items():
            found.setdefault(slot, value)
        if latest_only:
            break
    return found


CLAUSES = re.compile(r"[，,。；;！!？?\n]+")
# A bare negation typed apart belongs to what follows ("没有 外地客户").
BARE_NEGATION = re.compile(r"(没有|没|不是|不|无|并没有|也没有|都没有)")


def clauses(text: str) -> list[str]:
    """The message's clauses, also those typed with spaces instead of commas ("我做民宿的
    客人都是外地提前订房 被限制收款了 以后该用啥收款方式")."""
    found: list[str] = []
    for part in CLAUSES.split(text):
        words: list[str] = []
        for word in part.split():
            if words and BARE_NEGATION.fullmatch(words[-1]):
                words[-1] += word
            else:
                words.append(word)
        found.extend([part, *words] if len(words) > 1 else [part])
    return [clause for clause in found if clause]


def _stated(clause: str) -> dict[str, Any]:
    return {
        "payer_location": answers.read_payer_location(clause)
        if (answers.REMOTE_WORDS.search(clause) or answers.LOCAL_WORDS.search(clause)) else None,
        "has_website_icp": answers.read_website_icp(clause)
        if TOPICS["has_website_icp"].search(clause) else None,
        "has_miniprogram": answers.read_miniprogram(clause)
        if TOPICS["has_miniprogram"].search(clause) else None,
    }


# "这是为啥", "凭什么限我": the merchant asks why, not only how to collect now.
ASKS_WHY = re.compile(r"为啥|为什么|怎么回事|咋回事|啥原因|什么原因|凭什么|點解|为何")
RESTRICTED = re.compile(r"受限|限制|被限|限了|收不了|收不到|风控|冻结|封了|封我")


def asks_why_restricted(text: str) -> bool:
    return bool(ASKS_WHY.search(text) and RESTRICTED.search(text))


class ActionRemoteIntro(Action):
    """Names the ways to collect from remote payers in two lines, then offers the advisor;
    a merchant restricted for remote QR collection hears why first. What the merchant
    already said counts: customers who all come to the shop need no remote option, and
    the options are not listed twice."""

    def name(self) -> str:
        return "action_remote_intro"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        warn_if_scam(dispatcher, tracker)
        reason_code = await bound_reason(tracker)
        events: list[EventType] = []
        # This message's own facts replace earlier answers ("不是啊 我说了要卖外省").
        now = stated_facts(tracker, latest_only=True)
        stated = {slot: value for slot, value in stated_facts(tracker).items()
                  if tracker.get_slot(slot) is None or slot in now}
        if reason_code == "remote_qr_collection":
            dispatcher.utter_message(response="utter_remote_from_restriction")
            stated["payer_location"] = "remote"
        elif reason_code is None and asks_why_restricted(latest_text(tracker)):
            # "收不了外地的钱了 提示远程收款受限 这是为啥": the likely why, then the ways.
            dispatcher.utter_message(response="utter_remote_why_restricted")
            stated["payer_location"] = stated.get("payer_location") or "remote"
        events.extend(SlotSet(slot, value) for slot, value in stated.items())
        known = Answers(**{slot: stated.get(slot, tracker.get_slot(slot))
                           for slot in ADVISOR_SLOTS})
        if known.payer_location == "local":
            recommend(dispatcher, tracker, known, "offline_qr")
            return [*events, SlotSet("recommended_channel", "offline_qr")]
        again = said_before(tracker, "utter_remote_options")
        dispatcher.utter_message(response="utter_remote_options_again" if again
                                 else "utter_remote_options")
        # "外地客户怎么付？手续费多少": the other ask too, not only the options.
        await answer_other_asks(dispatcher, tracker, "remote_collection")
        return events


def recommend(dispatcher: CollectingDispatcher, tracker: Tracker, answers: Answers,
              option: str) -> None:
    """The recommendation with its reasons; the same one again is said briefly."""
    response = f"utter_recommend_{option}"
    if said_before(tracker, response) and tracker.get_slot("recommended_channel") == option:
        dispatcher.utter_message(response="utter_recommend_again", option=OPTION_NAMES[option])
        return
    dispatcher.utter_message(response=response, why=reasons(answers, option))


OPTION_NAMES = {
    "offline_qr": "店里的经营收款码当面收款",
    "website_api": "网站支付接口",
    "miniprogram": "小程序收款",
    "multi_channel_code": "持牌服务商的多通道收款码",
}


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
        recommend(dispatcher, tracker, answers, option)
        return [SlotSet("recommended_channel", option), SlotSet(SWITCH_TO, None)]
