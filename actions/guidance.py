"""FAQ answers (safety first: the emergency answer or the anti-scam warning; for a
verified merchant, advice for their own case) and the "did you mean ...?" step of the
two-stage fallback."""

from __future__ import annotations

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import repair
from actions.common import (
    DatabaseUnavailable,
    about_bound_merchant,
    latest_text,
    run_in_session,
)
from actions.knowledge import (
    KB_METADATA,
    answer_entry,
    answer_other_asks,
    answer_what_now,
    answered_entries,
    chosen_entry_id,
    knowledge_of,
    suggest,
)
from actions.reactions import answer_reaction
from actions.repair import EMERGENCIES, Safety
from core.db import handoffs, repository
from core.db.models import utcnow
from core.knowledge.decision import SUGGEST
from core.service_hours import ServiceHours

# The patterns live with the rest of the order of precedence (actions.repair).
SCAM_SIGNAL = repair.SCAM_SIGNAL
# The emergency answers: what to do now when a code or password was given away, or money
# paid to a fake helper (data/knowledge/safety.yml).
EMERGENCY_ENTRIES = {Safety.LEAKED: "scam_credentials_leaked", Safety.PAID: "scam_already_paid"}
SAFETY_RESPONSES = frozenset({"utter_anti_scam", "utter_scam_again", "utter_scam_emergency_again"})
# Entries that are themselves the anti-scam warning (they replace the generic one).
SAFETY_ENTRY_PREFIX = "scam_"
# A customer's own answers (a swapped code, a police report) say the safety steps too.
PAYER_PREFIX = "payer_"

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


# A payment code swapped or covered in a shop ("贴码的骗子", "码被人换了").
REPLACED_CODE = re.compile(r"贴码|贴的码|贴上去|换(了|掉)的?(二维)?码|码被(人)?(换|贴|覆盖)|被换(掉)?的(二维)?码|覆盖")


def looks_like_scam(text: str) -> bool:
    return repair.safety_of(text) is not None


def safety_said_this_turn(tracker: Tracker) -> bool:
    """True when an action earlier in this turn already gave the warning or the
    emergency answer (e.g. the FAQ answer before the identity check starts)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot":
            metadata = event.get("metadata") or {}
            entry = str(metadata.get(KB_METADATA) or "")
            if metadata.get("utter_action") in SAFETY_RESPONSES or \
                    entry.startswith(SAFETY_ENTRY_PREFIX):
                return True
    return False


async def answer_emergency(dispatcher: CollectingDispatcher, tracker: Tracker,
                           safety: Safety) -> None:
    """Stop, 95017 now, change the payment password, the bank, the police: the entry
    in full the first time, a short version if it was already said in this session."""
    entry_id = EMERGENCY_ENTRIES[safety]
    if entry_id in answered_entries(tracker) or \
            not await answer_entry(dispatcher, tracker, entry_id):
        dispatcher.utter_message(response="utter_scam_emergency_again")


async def safety_first(dispatcher: CollectingDispatcher, tracker: Tracker,
                       answers_entry: bool = False) -> Safety | None:
    """The first thing said about any message (outside and inside every form): the
    emergency answer when credentials were given away or money paid, else the
    anti-scam warning when a scam is in progress. Returns what the message is about
    (also when it was already said this turn). ``answers_entry``: the caller answers
    the matched knowledge entry next; a safety entry ("交钱解封是真的吗") then is the
    warning."""
    safety = repair.safety_of(latest_text(tracker))
    if safety is None or safety_said_this_turn(tracker):
        return safety
    if safety == Safety.SCAM and REPLACED_CODE.search(latest_text(tracker)):
        # "钱被贴码的骗子收走了怎么追回来": a code swapped in the shop, already paid to;
        # "一分钱都别转" would miss it: the replaced-code answers say what to do.
        return safety
    if safety in EMERGENCIES:
        await answer_emergency(dispatcher, tracker, safety)
    elif not (answers_entry and
              (chosen_entry_id(tracker) or "").startswith((SAFETY_ENTRY_PREFIX, PAYER_PREFIX))):
        # The scam this message describes (a fake support call, a fee to unfreeze, a
        # screen-sharing app) gets its own answer; the general warning otherwise.
        entry_id = matching_scam_entry(tracker)
        if entry_id is None or not await answer_entry(dispatcher, tracker, entry_id):
            # Its own answer already said ("所以到底转不转？？"): the plain no, not the
            # general warning about fees and "consultants" again.
            again = scam_entry_said(tracker)
            dispatcher.utter_message(response="utter_scam_again" if again else "utter_anti_scam")
    return safety


def matching_scam_entry(tracker: Tracker) -> str | None:
    """The likeliest anti-scam entry for the message, if it matched at all and was not
    said yet in this session."""
    answered = answered_entries(tracker)
    for candidate in knowledge_of(tracker).get("candidates") or []:
        entry_id = str(candidate.get("id") or "")
        if entry_id.startswith(SAFETY_ENTRY_PREFIX) and entry_id not in EMERGENCY_ENTRIES.values():
            if float(candidate.get("score") or 0) >= SUGGEST and entry_id not in answered:
                return entry_id
            return None
    return None


def scam_entry_said(tracker: Tracker) -> bool:
    """True when an anti-scam entry the message matches was said earlier in the session."""
    answered = answered_entries(tracker)
    return any(str(c.get("id") or "").startswith(SAFETY_ENTRY_PREFIX)
               and str(c.get("id")) in answered and float(c.get("score") or 0) >= SUGGEST
               for c in knowledge_of(tracker).get("candidates") or [])


def warn_if_scam(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """The anti-scam warning alone (synchronous callers; ``safety_first`` also gives
    the emergency answer and is what actions use)."""
    if looks_like_scam(latest_text(tracker)) and not safety_said_this_turn(tracker):
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

    def reason(session: Session, merchant_id: str) -> str | None:
        state = repository.current_state(session, merchant_id)
        return state.reason_code if state else None

    return await about_bound_merchant(tracker, reason)


COACHED_REASONS = ("remote_qr_collection", "instant_withdrawal", "high_frequency")


# "人工几点在线", "客服什么时候上班": when people answer, from the configured hours.
HOURS_ASK = re.compile(
    r"(人工|客服|真人|你们)[^，。,.？?]{0,6}(几点|什么时候|啥时候|何时|哪天)[^，。,.？?]{0,3}"
    r"(上班|在线|有人|上线|开始|下班|回来|服务)"
    r"|(几点|什么时候|啥时候)(上班|下班|有人工|有人在)|(人工|客服)的?(上班|服务|工作|在线)时间")


async def answer_service_hours(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """The hours people answer in this chat and whether someone is online now (honest:
    within the hours with nobody signed in is said too)."""
    if not HOURS_ASK.search(latest_text(tracker)):
        return False
    hours = ServiceHours.from_env()
    try:
        online = await run_in_session(handoffs.online_agents)
    except DatabaseUnavailable:
        online = None
    if not hours.is_open(utcnow()):
        now = "现在不在服务时间，可以先留言，客服上班后按先后处理。"
    elif online == 0:
        now = "现在是服务时间，但还没有客服在线；可以先留言，有人上线后按先后处理。"
    elif online:
        now = "现在有客服在线，说“转人工”就能排队。"
    else:
        now = "说“转人工”就能排队或留言。"
    dispatcher.utter_message(
        text=f"这里的人工客服服务时间是{hours.describe()}。{now}着急的话可以打95017。",
        **{"service_hours": True})
    return True


async def answer_faq(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """The answer to a known question: its knowledge entry (actions.knowledge), else the
    intent's own response; for a verified merchant asking how to appeal, also the
    materials for their own reason. False if the message is not a question."""
    if await answer_service_hours(dispatcher, tracker):
        return True
    entry_id = chosen_entry_id(tracker)
    if not (entry_id or "").startswith(SAFETY_ENTRY_PREFIX) \
            and await answer_reaction(dispatcher, tracker):
        # "这么久啊？？", "还是传不上去": a way forward, not "帮不上忙" or the advice again.
        return True
    if not (entry_id and await answer_entry(dispatcher, tracker, entry_id)) \
            and not answer_question(dispatcher, tracker):
        return False
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if intent == "ask_appeal_process" or entry_id == "appeal_process":
        reason = await bound_reason(tracker)
        if reason in COACHED_REASONS:
            dispatcher.utter_message(response=f"utter_appeal_materials_{reason}")
    await answer_other_asks(dispatcher, tracker, entry_id)
    return True


class ActionAnswerFaq(Action):
    """Answers a question by its intent; warns first when the message smells of a scam."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if await safety_first(dispatcher, tracker, answers_entry=True) in EMERGENCIES:
            return []
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "report_account_abnormal" and repair.role_of(latest_text(tracker)):
            # A service provider, developer, personal user or HK merchant: the identity
            # check that follows answers with what they can do instead of the overview.
            return []
        if not await answer_faq(dispatcher, tracker):
            dispatcher.utter_message(response="utter_ask_rephrase")
        from actions.verification import remembered_id  # lazy: verification imports forms

        return remembered_id(dispatcher, tracker)


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
        safety = await safety_first(dispatcher, tracker)
        if safety in EMERGENCIES:
            return []
        suggestions = [str(i) for i in knowledge_of(tracker).get("suggestions") or []]
        if safety is not None and any(i.startswith(SAFETY_ENTRY_PREFIX) for i in suggestions):
            # The warning was the answer; a "你是想问：" menu after it would only offer it
            # again ("有人说交500块就能包过，靠谱吗").
            return []
        from actions.verification import verify_inline  # lazy: verification imports forms

        if await verify_inline(dispatcher, tracker, status=True):
            # A merchant id and the digits in it: checked, and the account shown (only
            # the id: kept while the digits are asked for).
            from actions.verification import remembered_id

            return remembered_id(dispatcher, tracker)
        if await answer_what_now(dispatcher, tracker):
            return []  # "那我怎么办" right after an answer: its next step
        if await answer_reaction(dispatcher, tracker):
            return []  # "还是传不上去": a person, not "没看懂"
        stage = max(1, misses_in_a_row(tracker))
        if stage >= 3:
            dispatcher.utter_message(response="utter_fallback_person")
            return []
        knowledge = knowledge_of(tracker)
        if knowledge.get("decision") == "suggest" and \
                await suggest(dispatcher, list(knowledge.get("suggestions") or []),
                              answered_entries(tracker)):
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
