"""FAQ answers (with the anti-scam warning and, for a verified merchant, advice for
their own case) and the "did you mean ...?" step of the two-stage fallback."""

from __future__ import annotations

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.common import DatabaseUnavailable, latest_text, run_in_session, sender_key
from actions.knowledge import answer_entry, chosen_entry_id, knowledge_of, suggest
from core.db import repository

# Paying someone to unfreeze, handing over passwords or SMS codes, private "consultants".
SCAM_SIGNAL = re.compile(
    r"(付费|花钱|收费|交钱|给钱|出钱|转账|红包|交\s*\d+|\d+\s*(块|元)).{0,8}(解封|解冻|解除|解限|开通)"
    r"|(解封|解冻|解限).{0,8}(付费|花钱|收费|多少钱|费用|要钱|交钱|块|元)"
    r"|代解封|解封(服务|渠道|顾问|专家|团队|中介)|内部(渠道|关系|人员)"
    r"|验证码|支付密码|登录密码|交易密码|密码"
    r"|(顾问|专员|专家|老师|中介).{0,6}(微信|vx|v信|wx|qq|电话|手机)"
    r"|加.{0,4}(微信|vx|v信|wx|qq)",
    re.IGNORECASE,
)

# Intents answered by a plain response; inside a form the answer comes from here and
# the form resumes afterwards.
FAQ_RESPONSES = {
    "report_account_abnormal": "utter_report_abnormal",
    "out_of_scope": "utter_out_of_scope",
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


def looks_like_scam(text: str) -> bool:
    return bool(SCAM_SIGNAL.search(text))


def warn_if_scam(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """The anti-scam warning, first, whenever the latest message smells of one; every
    action that answers a message calls it (FAQ, fallback, forms, the advisor)."""
    if looks_like_scam(latest_text(tracker)):
        dispatcher.utter_message(response="utter_anti_scam")


# Another platform or a bank (the other_platform entity): where the question belongs.
ELSEWHERE = {"alipay": "utter_elsewhere_alipay", "bank": "utter_elsewhere_bank",
             "unionpay": "utter_elsewhere_bank"}
PLATFORM_NAMES = {"douyin": "抖音", "kuaishou": "快手", "taobao": "淘宝", "pinduoduo": "拼多多",
                  "meituan": "美团", "jd": "京东", "qq": "QQ钱包", "shopee": "Shopee"}


def other_platform(tracker: Tracker) -> str | None:
    entities = (tracker.latest_message or {}).get("entities") or []
    return next((str(e.get("value")) for e in entities if e.get("entity") == "other_platform"),
                None)


def answer_question(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Answers the latest message if it is a known question; False if it is not one."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if intent not in FAQ_RESPONSES:
        return False
    platform = other_platform(tracker) if intent == "out_of_scope" else None
    if platform in ELSEWHERE:
        dispatcher.utter_message(response=ELSEWHERE[platform])
    elif platform:
        dispatcher.utter_message(response="utter_elsewhere_platform",
                                 platform=PLATFORM_NAMES.get(platform, "这个平台"))
    else:
        dispatcher.utter_message(response=FAQ_RESPONSES[intent])
    return True


async def bound_reason(tracker: Tracker) -> str | None:
    """The restriction reason of the verified merchant, if this sender is verified."""
    channel, sender_id = sender_key(tracker)

    def work(session: Session) -> str | None:
        merchant_id = repository.bound_merchant_id(session, channel, sender_id)
        state = repository.current_state(session, merchant_id) if merchant_id else None
        return state.reason_code if state else None

    try:
        return await run_in_session(work)
    except DatabaseUnavailable:
        return None  # general advice still helps


COACHED_REASONS = ("remote_qr_collection", "instant_withdrawal", "high_frequency")


async def answer_faq(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """The answer to a known question: its knowledge entry (actions.knowledge), else the
    intent's own response; for a verified merchant asking how to appeal, also the
    materials for their own reason. False if the message is not a question."""
    entry_id = chosen_entry_id(tracker)
    if not (entry_id and await answer_entry(dispatcher, tracker, entry_id)) \
            and not answer_question(dispatcher, tracker):
        return False
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if intent == "ask_appeal_process":
        reason = await bound_reason(tracker)
        if reason in COACHED_REASONS:
            dispatcher.utter_message(response=f"utter_appeal_materials_{reason}")
    return True


class ActionAnswerFaq(Action):
    """Answers a question by its intent; warns first when the message smells of a scam."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        warn_if_scam(dispatcher, tracker)
        if not await answer_faq(dispatcher, tracker):
            dispatcher.utter_message(response="utter_ask_rephrase")
        return []


def misses_in_a_row(tracker: Tracker) -> int:
    """How many of the latest user messages in a row were not understood."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != "nlu_fallback":
            break
        count += 1
    return count


class ActionFallback(Action):
    """A message the model did not understand, worded by how many came in a row: first
    a rephrase with examples, then the two likeliest topics as choices, then a person
    or 95017. Never "still" on the first miss."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        warn_if_scam(dispatcher, tracker)
        stage = max(1, misses_in_a_row(tracker))
        if stage >= 3:
            dispatcher.utter_message(response="utter_fallback_person")
            return []
        knowledge = knowledge_of(tracker)
        if knowledge.get("decision") == "suggest" and \
                await suggest(dispatcher, list(knowledge.get("suggestions") or [])):
            return []
        ranking = tracker.latest_message.get("intent_ranking") or []
        candidates = [item["name"] for item in ranking if item.get("name") in INTENT_TITLES][:2]
        if stage == 1 or not candidates:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        buttons = [
            {"title": f"{number} {INTENT_TITLES[name]}", "payload": f"/{name}"}
            for number, name in enumerate(candidates, start=1)
        ]
        buttons.append({"title": f"{len(buttons) + 1} 都不是", "payload": "/deny"})
        dispatcher.utter_message(response="utter_did_you_mean", buttons=buttons)
        return []
