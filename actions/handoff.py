"""Handing a conversation to a person, without the merchant repeating a word.

"转人工" (or the last step of a misunderstanding, or a lock-out) starts a short form:
the problem in one sentence (skipped when the conversation already says it), an offer
to verify identity first (so the agent sees the account), and, outside working hours
or with nobody online, how to reach the merchant. Then the conversation is queued in
the ``handoffs`` table with the position and a realistic wait, or a message (留言) is
left as a ticket. While waiting the merchant can keep asking the bot or say "不等了".

What the merchant says is kept and answered at every step: a question is answered (from
the knowledge base or the merchant's own facts; one that needs the account, after the
identity check) *and* the step is asked again briefly, never taken as the step's answer,
and it joins the problem the agent sees. Ids sent at any step are the identity check and
never stored in clear. A message is left only once the merchant chose how to be reached;
"我没要转人工" / "取消留言" / "别打给我" call it off, also after it was filed (it is
withdrawn). Messages about the request itself ("记到留言里了没有", "客服知道我是啥问题
吧", "还要等多久") are answered from the request (``core.handoff_followup``; after it was
filed the HandoffPolicy routes them to ``action_stop_waiting``).
While an agent holds the conversation the bot stays silent
(``addons.policies.handoff.HandoffPolicy``); when the agent closes it, the console
triggers ``handoff_closed`` and the bot asks for a 1-5 score.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.account import account_snapshot, load_account, state_line
from actions.ask import AskForSlot
from actions.common import DatabaseUnavailable, run_in_session, sender_key, utter_busy
from actions.forms import (
    DIGRESSIONS,
    FORM_STOP,
    MAX_MISSES,
    MISSES,
    PAUSED_FORM,
    REPAIR_STATE,
    SWITCH_TO,
    Answer,
    RepairingForm,
)
from actions.guidance import answer_faq, safety_first
from actions.knowledge import answer_entry, knowledge_of
from actions.repair import (
    CANCEL,
    CORRECTION,
    HUMAN,
    RESTART,
    THANKS,
    Move,
    Said,
    classify,
    safety_of,
)
from actions.verification import MERCHANT_ID, check_identity, extract_last4
from actions.waiting import stop_waiting
from core.answers import (
    PHONE_WORDS,
    POS,
    UNSURE,
    normalize,
    polarity,
    read_handoff_contact,
    read_handoff_verify,
)
from core.choices import pick
from core.db import handoffs, repository
from core.db.models import Handoff, HandoffStatus, utcnow
from core.handoff_followup import (
    ANSWER_KEY,
    About,
    about_handoff,
    asks_if_agent_knows,
    cancels_request,
    is_handoff_message,
)
from core.knowledge.decision import SUGGEST
from core.privacy import mask_merchant_id, mask_personal_data, mask_phone
from core.service_hours import ServiceHours

HANDOFF_SLOTS = ["handoff_problem", "handoff_verify", "handoff_contact"]
# What is left of "转人工，我的钱冻结了" once the request for a person is taken out.
POLITE = re.compile(r"^(请|麻烦|帮我|给我|我要|我想|快|赶紧|能不能|可以)+")
PUNCTUATION = re.compile(r"[\s,，。.!！?？~～、;；:：]+")
MIN_PROBLEM = 4
# A statement this long at a later step of the intake is more of the problem.
STORY_AT_A_STEP = 10
MAX_PROBLEM = 200
NOT_A_PROBLEM = {"greet", "thank", "goodbye", "affirm", "deny", "request_human",
                 "stop_waiting", "handoff_closed", "bot_challenge"}
CHINESE = re.compile(r"[\u4e00-\u9fff]")
PAUSED_PROBLEM = {
    "appeal_form": "提交申诉时需要人工帮助",
    "verify_form": "核对身份时需要人工帮助",
    "remote_advice_form": "选择异地收款方式时需要人工帮助",
}
# Ids and digits are not a problem description ("1900000003 0003" sent at a step).
ID_LIKE = re.compile(r"(?<!\d)\d{4,}(?!\d)|[a-zA-Z]{2}\d{8,}")
# A merchant id or phone digits on their own ("转人工 1900000003 0003").
BARE_IDS = re.compile(r"(?<![\dA-Za-z])(\d{10}|\d{4})(?!\d)")
# "商户号1900000004 手机尾号0004": taken out of the problem (the check uses them).
LABELLED_IDS = re.compile(
    r"(我的)?(商户号|商户id|商户编号|账号|手机号?(码)?(的)?(尾号|后[四4]位)?|尾号|后[四4]位)"
    r"\s*[:：是为]?\s*(\d{10}|\d{4})(?!\d)", re.IGNORECASE)
NO_PROBLEM = "（商户没有说明，请客服先询问）"
# "不用了" at "要先核对身份吗？" declines the check, not the person.
# "不用核对了" at "要先核对身份吗？": no check, the person all the same (never a cancel).
DECLINE_STEP = re.compile(
    r"^\s*(不用了?|不需要了?|不要了?|不必了?|不了"
    r"|(不用|不需要|不必|别|不想|不)(再)?(先)?(核对|核实|验证|查|对)(身份)?(了)?(吧|啦)?)"
    r"\s*[，,。.!！]?\s*(谢谢)?\s*$")
DECLINE_TICKET = re.compile(r"^\s*(算了吧?|不用了?|不需要了?|不要了?|不了|先不用了?)\s*[，,。.!！]?\s*(谢谢)?\s*$")
# Leaving at the offer to leave a message: "好的，我明天打95017" files nothing.
LEAVING = re.compile(r"明天|明早|回头|晚点|改天|下次|再见|拜拜|先这样|不打扰|没事了|95017|自己打|我打")
# What "不等了" has to say for the queue to be left; a question about the wait is not it.
EXPLICIT_STOP = re.compile(
    r"不等|不排|取消|不用人工|不要人工|不需要人工|人工(先)?不(用|要)|退出|撤销|算了|不想等|等不了|别排"
)
# Private per-turn facts for required_slots (not domain slots; see actions.forms).
CONTEXT = "__handoff_context"
# This turn's inline identity check: "ok" or "failed" (ids sent at a handoff step).
VERIFIED_NOW = "__handoff_verified_now"
# A pause the handoff turns into "queue with what is known" (see ValidateHandoffForm).
QUEUE_ANYWAY = "__queue_anyway"
# "2" / "打我电话" at "你希望客服怎么联系你？" without the number: ask for it.
PHONE_PENDING = "__phone_pending"
# How sure the model must be that a short reply at the contact step is a plain "no".
SURE_NO = 0.8
# What is left of "转人工" / "人工客服" when the request is the whole message.
PERSON_WORDS = re.compile(r"^(人工客服|人工服务|在线客服|真人客服|人工|真人|客服)+"
                          r"|(我)?(要|想)?(找)?(人工客服|人工|真人客服|真人|客服)+$")
LEADING_FILLER = re.compile(r"^(那|那就|就|好|好的)+")
# "我要找" left over once "真人" was taken out of "我要找真人".
TRAILING_ASK = re.compile(r"[\s，,]*(我)?(要|想)(找|要)?$")
# Bot messages (metadata ``handoff_note``) the form uses to find what it said earlier.
NOTE_KEY = "handoff_note"

# "我这个号是不是被限制了", "我的商户号现在什么状态": a question about the merchant's own
# account, which only the account (after the check) answers.
OWN_STATE_ASK = re.compile(
    r"(我|我的|我这个?|我们)的?(商户号?|账户|账号|号|店|收款码?)[^。？?]{0,24}"
    r"(是不是|有没有|是否|被没被)(被)?(限制|限了|冻结|冻了|封|风控|管控)"
    r"|(我|我的|我这个?)的?(商户号?|账户|账号|号)[^，。？?]{0,6}(现在)?(什么|啥)(状态|情况)")

# What the handoff says in its own words (no domain response needed).
ASK_PHONE = "好的，电话联系你。请发一个客服能打通的11位手机号。"
REMIND_CONTACT_AGAIN = "留言还没提交。客服怎么联系你？"
CONTACT_BUTTONS = [{"title": "1 在这里回复我", "payload": "1"},
                   {"title": "2 打我电话（直接发手机号）", "payload": "2"}]
CALLED_OFF = "好的，不转人工了，也不会留言。"
RESUME_HINT = "要接着刚才的步骤，回复“继续”就行。"
TICKET_WITHDRAWN = "好的，留言已撤回，客服不会再联系你。之后需要的话，再说“转人工”就行。"
ALREADY_WITHDRAWN = "留言已经撤回了，客服不会联系你。需要时再说“转人工”。"
DEFERRED = "这个要看你的账户情况，核对身份后我先帮你查一下。"
DEFERRED_DONE = "回到你刚才的问题："
KEPT_FOR_AGENT = "这个问题我记下了，客服接入后会回答你。"
NOTED = "记下了，客服会一并看到。"
NO_DETAIL = "还没写具体问题（发“补充：……”，我帮你加上）"


def clean_problem(text: str) -> str:
    """The merchant's words without the ids they typed for the check ("商户号1900000003
    后四位0003"): those are checked, never stored in clear."""
    text = BARE_IDS.sub(" ", LABELLED_IDS.sub(" ", text or ""))
    text = re.sub(r"\s{2,}", " ", text)
    text = re.sub(r"[，,]\s*(?=[，,。.])", "", text)
    text = re.sub(r"[\s,，、;；:：]+$", "", re.sub(r"^[\s,，。.、;；:：!！]+", "", text))
    return text.strip()[:MAX_PROBLEM]


def joined_problem(problem: str | None, more: str) -> str:
    """The problem with one more thing the merchant said."""
    more = clean_problem(more)
    if not problem or problem == NO_PROBLEM:
        return more
    if more in problem:
        return problem
    return f"{problem}；{more}"[:MAX_PROBLEM * 2]


def wants_phone(text: str) -> bool:
    """"2" (打我电话) or "打我电话" at the contact step, without a number yet."""
    value = normalize(text)
    if pick(value, ["chat", "phone"]) == "phone":
        return True
    return not Said(text=text).is_question and polarity(value, PHONE_WORDS) == POS


def shown_problem(problem: str | None) -> str:
    if not problem or problem == NO_PROBLEM:
        return NO_DETAIL
    problem = mask_personal_data(problem)
    return f"“{problem if len(problem) <= 60 else problem[:59] + '…'}”"


def contact_words(method: str | None, phone: str | None) -> str:
    return f"电话联系你（{mask_phone(phone)}）" if method == "phone" and phone else "在这里回复你"


def bot_events_since_user(tracker: Tracker, users: int = 1) -> list[dict[str, Any]]:
    """The bot messages after the ``users``-th latest user message, newest first."""
    found: list[dict[str, Any]] = []
    seen = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen += 1
            if seen > users:
                break
        elif event.get("event") == "bot" and seen >= 1:
            found.append(event)
    return found


def after_handoff_message(tracker: Tracker) -> bool:
    """The bot's latest messages before this one were about the merchant's request."""
    earlier = bot_events_since_user(tracker)
    return bool(earlier) and is_handoff_message(earlier[0].get("metadata"))


@dataclass(frozen=True)
class Context:
    merchant_id: str | None
    locked: bool
    open_status: HandoffStatus | None
    serving: bool


def serving_now(session: Session) -> bool:
    """Working hours and somebody online to answer."""
    return ServiceHours.from_env().is_open(utcnow()) and handoffs.online_agents(session) > 0


def load_context(channel: str, sender_id: str) -> Any:
    def work(session: Session) -> Context:
        return Context(
            merchant_id=repository.bound_merchant_id(session, channel, sender_id),
            locked=repository.is_locked(session, channel, sender_id),
            open_status=handoffs.owner(session, channel, sender_id),
            serving=serving_now(session),
        )

    return run_in_session(work)


def previous_user_messages(tracker: Tracker) -> list[dict[str, Any]]:
    """The user messages before the latest one, newest first, in this session."""
    users: list[dict[str, Any]] = []
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        if event.get("event") == "user":
            users.append(event)
    return users[1:]


def intent_of(event: dict[str, Any]) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def handoff_reason(tracker: Tracker, context: Context) -> str:
    earlier = previous_user_messages(tracker)
    if context.locked:
        return "locked_out"
    if earlier and all(intent_of(e) == "nlu_fallback" for e in earlier[:2]) and len(earlier) >= 2:
        return "not_understood"
    last_bot = next((e for e in reversed(tracker.events) if e.get("event") == "bot"), {})
    if (last_bot.get("metadata") or {}).get("utter_action") == "utter_form_stuck":
        return "form_stuck"
    if tracker.get_slot(PAUSED_FORM) == "appeal_form" or \
            tracker.get_slot("lookup_purpose") == "appeal":
        return "appeal_help"
    return "merchant_asked"


def words_of(text: str) -> str:
    """The text without ids and digits, for telling a description from an id."""
    return PUNCTUATION.sub("", ID_LIKE.sub("", text or ""))


def problem_in(said: Said) -> str | None:
    """The merchant's answer to "用一句话说说遇到了什么问题", kept as the problem even
    when it is a question the assistant also answers ("冻结的钱多久能提出来？"). Not a
    problem: greetings, thanks, yes/no, control words, ids, payloads."""
    text = said.text.strip()
    if text.startswith("/") or said.intent in NOT_A_PROBLEM:
        return None
    if CANCEL.match(text) or RESTART.search(text) or HUMAN.search(text) or (
            CORRECTION.search(text) and not said.is_question) or cancels_request(text):
        return None
    if about_handoff(text) in (About.RECORDED, About.WAIT):
        return None  # about the request itself ("客服知道我的情况吗"), not a problem
    text = clean_problem(text)
    if len(words_of(text)) < MIN_PROBLEM:
        return None
    return text


def problem_from_conversation(tracker: Tracker) -> str | None:
    """The problem, when the conversation already says it: the request itself
    ("转人工，钱冻结了怎么办"), the question asked just before, or the form that paused."""
    text = (tracker.latest_message or {}).get("text") or ""
    text = BARE_IDS.sub(" ", LABELLED_IDS.sub(" ", text))
    rest = POLITE.sub("", PUNCTUATION.sub(" ", HUMAN.sub(" ", text)).strip()).strip()
    # "人工客服", "我要人工客服": the request itself, not a problem.
    rest = TRAILING_ASK.sub("", LEADING_FILLER.sub("", PERSON_WORDS.sub("", rest).strip()).strip())
    if len(words_of(rest)) >= MIN_PROBLEM and not rest.startswith("/"):
        return rest
    for event in previous_user_messages(tracker)[:1]:
        said = (event.get("text") or "").strip()
        # Even a message the model missed is the merchant's own words, if it has some.
        if intent_of(event) not in NOT_A_PROBLEM and not said.startswith("/") \
                and len(CHINESE.findall(said)) >= MIN_PROBLEM:
            return clean_problem(said)
    return PAUSED_PROBLEM.get(tracker.get_slot(PAUSED_FORM) or "")


def inline_ids(text: str) -> tuple[str, str] | None:
    """A merchant id and the last 4 digits of the phone in one message, or None."""
    match = MERCHANT_ID.search(text or "")
    if not match:
        return None
    last4 = extract_last4(text[:match.start()] + " " + text[match.end():])
    return (match.group(1), last4) if last4 else None


async def check_inline(channel: str, sender_id: str, merchant_id: str, last4: str) -> str:
    """The identity check on ids sent at a handoff step: the identity check form's own
    check (the same counting, lock-outs and alert); a locked merchant id is "locked"."""
    result = await check_identity(channel, sender_id, merchant_id, last4)
    return "locked" if result == "merchant_locked" else result


async def answer_candidate(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """The likeliest knowledge entry for a question the matcher left to the flows
    ("申诉到现在还没结果，到底还要等多久？"), if it matched at all."""
    candidates = knowledge_of(tracker).get("candidates") or []
    if not candidates or float(candidates[0].get("score") or 0) < SUGGEST:
        return False
    entry_id = str(candidates[0].get("id") or "")
    return bool(entry_id) and await answer_entry(dispatcher, tracker, entry_id)


# "跟机器人说有啥用 直接给我接人工": a complaint shaped like a question, not one to answer.
RHETORICAL = re.compile(r"有(啥|什么|甚么)用|说了(也)?(没用|白说)|别跟我说|不想(说|跟你说)"
                        r"|跟(你|机器人|助手)说(有啥用|没用|不清)"
                        # "核对啥核对", "等什么等": impatience, not a question.
                        r"|(?P<twice>[\u4e00-\u9fff]{1,2})(啥|什么|甚么)(?P=twice)")


def deferred_question(tracker: Tracker) -> dict[str, Any] | None:
    """The question the handoff put off until the identity check (its parse data), if it
    is still unanswered."""
    deferred = False
    users = 0
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "bot":
            note = (event.get("metadata") or {}).get(NOTE_KEY)
            if note == "deferred_done":
                return None
            deferred = deferred or note == "deferred"
        elif kind == "user":
            users += 1
            if deferred:
                return {**(event.get("parse_data") or {}), "text": event.get("text") or ""}
            if users > 8:
                return None
        elif kind == "session_started":
            return None
    return None


async def say_state(dispatcher: CollectingDispatcher, context: Context) -> None:
    """The verified merchant's account state in one line (nothing if it cannot be read)."""
    if not context.merchant_id:
        return
    try:
        account = await load_account(context.merchant_id, None)
    except DatabaseUnavailable:
        return
    if account is not None:
        state_line(dispatcher, account)


async def answer_deferred(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """After the identity check (or without it), the question asked before it."""
    question = deferred_question(tracker)
    if question is None:
        return
    dispatcher.utter_message(text=DEFERRED_DONE, **{NOTE_KEY: "deferred_done"})
    view = copy.copy(tracker)
    view.latest_message = question
    if not await answer_faq(dispatcher, view) and not await answer_candidate(dispatcher, view):
        dispatcher.utter_message(text=KEPT_FOR_AGENT)


async def prospective_wait() -> handoffs.Wait | None:
    """Where a request queued now would stand."""
    def work(session: Session) -> handoffs.Wait:
        waiting = session.execute(
            select(func.count(Handoff.id)).where(Handoff.status == HandoffStatus.waiting)
        ).scalar_one()
        return handoffs.estimate_wait(int(waiting) + 1, handoffs.online_agents(session),
                                      handoffs.median_handling(session))

    try:
        return await run_in_session(work)
    except DatabaseUnavailable:
        return None


def tickets_ahead(session: Session, handoff: Handoff) -> int:
    return int(session.execute(
        select(func.count(Handoff.id)).where(Handoff.status == HandoffStatus.ticket,
                                             Handoff.queued_at < handoff.queued_at)
    ).scalar_one())


def withdraw_ticket(session: Session, handoff: Handoff) -> None:
    """The merchant withdrew the message they left: it leaves the agents' list."""
    handoff.status = HandoffStatus.cancelled
    handoff.closed_at = handoff.updated_at = utcnow()


class ValidateHandoffForm(RepairingForm):
    """The handoff's questions keep what was said and never lose the request:

    - the answer to "用一句话说说遇到了什么问题" is the problem, also when it is a
      question (it is answered too);
    - a merchant id + last 4 digits sent at any step is the identity check itself;
    - a pause (side questions, a step that does not go on) queues the request with what
      is known instead of dropping it: only "算了"/"不等了" leave;
    - "不用了" at "要先核对身份吗？" skips the check; at the offer to leave a message it
      files nothing.
    """

    slot_words = {
        "handoff_problem": re.compile(r"问题|情况"),
        "handoff_contact": re.compile(r"电话|手机|联系"),
    }
    free_text_slots = frozenset({"handoff_problem"})
    question_slots = frozenset({"handoff_problem"})
    pause_response = "utter_pause_handoff_form"

    def name(self) -> str:
        return "validate_handoff_form"

    @staticmethod
    def context(tracker: Tracker) -> Context | None:
        return tracker.slots.get(CONTEXT)

    def is_stopped(self, tracker: Tracker) -> bool:
        context = self.context(tracker)
        # Already queued or with an agent (action_handoff says where it stands), or the
        # database is away (it says so too).
        return context is None or context.open_status is not None

    def active_slots(self, tracker: Tracker, domain: DomainDict) -> list[str]:
        context = self.context(tracker)
        slots = ["handoff_problem"]
        if context is not None and not (context.merchant_id or context.locked):
            slots.append("handoff_verify")
        if context is not None and not context.serving:
            slots.append("handoff_contact")
        return slots

    async def prepare(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            context = await load_context(*sender_key(tracker))
        except DatabaseUnavailable:
            context = None
        tracker.slots[CONTEXT] = context
        tracker.slots[VERIFIED_NOW] = None
        if context is None:
            return {}
        values: dict[str, Any] = {}
        if context.open_status is None:
            values.update(await self._verify_inline(dispatcher, tracker, context))
            context = self.context(tracker) or context
        said = Said.of(tracker)
        if tracker.slots.get(VERIFIED_NOW) or (
                tracker.get_slot("requested_slot") is None and context.merchant_id):
            # Verified just now (ids at a step, or back from the identity check): the
            # question that needed the account is answered first.
            if tracker.slots.get(VERIFIED_NOW) == "ok" and deferred_question(tracker) is None:
                # "那算了还是你帮我查吧 1900000001 0001": checked, so the account's state,
                # as after every identity check.
                await say_state(dispatcher, context)
            await answer_deferred(dispatcher, tracker)
        if tracker.get_slot("requested_slot") is None:
            values["handoff_reason"] = handoff_reason(tracker, context)
            if tracker.get_slot("handoff_problem") is None:
                values["handoff_problem"] = problem_from_conversation(tracker)
            if context.merchant_id:
                values["handoff_verify"] = None  # verified: nothing to offer
            return values
        if tracker.get_slot("requested_slot") == "handoff_problem":
            # Kept even when the repair answers it as a question (a digression): the
            # agent sees what the merchant said when asked, not the next message.
            problem = problem_in(said)
            if problem:
                values["handoff_problem"] = problem
        return values

    async def _verify_inline(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                             context: Context) -> dict[str, Any]:
        """"1900000003 0003" at any step of the handoff: checked on the spot."""
        ids = inline_ids(Said.of(tracker).text)
        if ids is None or context.merchant_id or context.locked:
            return {}
        merchant_id, last4 = ids
        cleared: dict[str, Any] = {"merchant_id": None, "phone_last4": None}
        try:
            result = await check_inline(*sender_key(tracker), merchant_id, last4)
        except DatabaseUnavailable:
            return cleared
        if result == "ok":
            masked = mask_merchant_id(merchant_id)
            dispatcher.utter_message(response="utter_verified", verified_merchant=masked)
            tracker.slots[CONTEXT] = replace(context, merchant_id=merchant_id)
            tracker.slots[VERIFIED_NOW] = "ok"
            return {**cleared, "verified_merchant": masked, "handoff_verify": None}
        # Wrong or locked: the same answer either way; the agent checks instead.
        dispatcher.utter_message(response="utter_handoff_verify_failed")
        tracker.slots[CONTEXT] = replace(context, locked=context.locked or result == "locked")
        tracker.slots[VERIFIED_NOW] = "failed"
        return cleared

    async def parse_handoff_problem(self, said: Said, tracker: Tracker) -> Answer | None:
        text = clean_problem(said.text.strip())
        if len(words_of(text)) < MIN_PROBLEM or said.text.startswith("/"):
            return None  # an id, "1900000003 0003", a payload: not a description
        return Answer(text)

    async def skip_handoff_problem(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        return {"handoff_problem": NO_PROBLEM}

    async def parse_handoff_verify(self, said: Said, tracker: Tracker) -> Answer | None:
        if tracker is not None and tracker.slots.get(VERIFIED_NOW):
            return Answer(False)  # checked inline just now: no separate check
        value = read_handoff_verify(said.text, said.intent)
        if value is None and MERCHANT_ID.search(said.text):
            return Answer(True)  # "商户号1900000002" at "要先核对身份吗？": a yes, the id given
        if value is None or value is UNSURE:
            return None
        return Answer(value)

    async def skip_handoff_verify(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        return {"handoff_verify": False}

    async def parse_handoff_contact(self, said: Said, tracker: Tracker) -> Answer | None:
        value = read_handoff_contact(said.text)
        if value is None and wants_phone(said.text):
            return Answer(PHONE_PENDING)  # by phone: the number is asked for next
        return None if value is None else Answer(value)

    async def on_human(
        self, requested: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        # "直接转人工" here means: go on without the optional step.
        if requested == "handoff_verify":
            return {"handoff_verify": False}
        if requested == "handoff_problem":
            return await self.skip_handoff_problem(dispatcher, tracker)
        return {}

    async def after_answers(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("handoff_verify") is False:
            await answer_deferred(dispatcher, tracker)  # no check: the general answer
        if tracker.get_slot("handoff_verify") is True and not (
            (context := self.context(tracker)) and context.merchant_id
        ):
            # Verify first; action_after_verification brings the merchant back here.
            dispatcher.utter_message(response="utter_handoff_verify_first")
            return {**self._pause(dispatcher, announce=False, switch_to="verify_form"),
                    "lookup_purpose": "handoff", "handoff_verify": None}
        return {}

    # --- the request is never dropped on the way ----------------------------------------
    async def _repair_or_take(
        self, requested: str, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        said = Said.of(tracker)
        calm = {REPAIR_STATE: None, DIGRESSIONS: 0.0, MISSES: 0.0}
        safe = safety_of(said.text) is None
        if requested == "handoff_verify" and DECLINE_STEP.match(said.text):
            return {"handoff_verify": False, **calm}  # the check is declined, not the person
        if requested == "handoff_contact" and safe and (
                DECLINE_TICKET.match(said.text) or cancels_request(said.text)
                or read_handoff_contact(said.text) == "declined" or self._plain_no(said)):
            return {"handoff_contact": "declined", **calm}  # no message is left
        if safe and cancels_request(said.text):
            # "我没要转人工啊": the request is called off (another form waiting stays so).
            dispatcher.utter_message(text=CALLED_OFF + (RESUME_HINT if self._other_paused(
                tracker) else ""))
            return {**self._cleared(domain), FORM_STOP: "cancelled", **calm}
        about = about_handoff(said.text) if safe else None
        if about in (About.RECORDED, About.WAIT):
            # About the request itself: answered from what it holds, then the step again,
            # unless the message answered the step too ("不核对 直接人工 排队要多久").
            await self._about_intake(about, dispatcher, tracker)
            parsed = await self._parse(requested, said, tracker)
            if parsed is not None:
                return {requested: parsed, **calm}
            return {REPAIR_STATE: "remind", MISSES: 0.0}
        if about is None and safe and requested != "handoff_problem" \
                and not said.is_question and len(words_of(said.text)) >= STORY_AT_A_STEP \
                and await self._would_miss(requested, said, tracker):
            # "你们客服太慢了，我申诉了一个礼拜都没人理" at "要先核对身份吗？": more of the
            # problem, for the agent, never the step's format hint.
            about = About.ADD
        if about is About.ADD and requested != "handoff_problem":
            dispatcher.utter_message(text=NOTED)
            return {"handoff_problem": joined_problem(self._problem(tracker), said.text),
                    REPAIR_STATE: "remind", MISSES: 0.0}
        if safe and (tracker.slots.get(VERIFIED_NOW) or THANKS.search(said.text)) and \
                await self._would_miss(requested, said, tracker):
            # Ids checked inline (said so) or thanks with more words ("挂了，还好没开共享。
            # 谢谢提醒"): not a miss; the step again, briefly.
            if not tracker.slots.get(VERIFIED_NOW):
                dispatcher.utter_message(response="utter_thank_short")
            return {REPAIR_STATE: "remind", MISSES: 0.0}
        said_before = len(dispatcher.messages)
        values = await super()._repair_or_take(requested, dispatcher, tracker, domain)
        if values.get(FORM_STOP) == QUEUE_ANYWAY:
            values = {**values, **self._defaults(tracker, values), FORM_STOP: None}
            if requested == "handoff_contact":
                if LEAVING.search(said.text):
                    # "好的，我明天打95017" at the offer to leave a message: none is left.
                    values["handoff_contact"] = "declined"
                else:
                    # A message is left only once the merchant chose how: ask again, briefly.
                    values[REPAIR_STATE] = "remind"
        if values.get("handoff_contact") == PHONE_PENDING:
            dispatcher.utter_message(text=ASK_PHONE)
            values.update({"handoff_contact": None, REPAIR_STATE: "quiet", MISSES: 0.0})
        if values.get(FORM_STOP) or not safe or not said.is_question \
                or said.text.startswith("/") or about is not None or RHETORICAL.search(said.text):
            return values
        question = clean_problem(said.text)
        if len(words_of(question)) < MIN_PROBLEM:
            return values
        if requested != "handoff_problem" and values.get(requested) is None:
            # A question at a later step: kept with the problem for the agent too.
            values["handoff_problem"] = joined_problem(
                values.get("handoff_problem") or self._problem(tracker), said.text)
        if len(dispatcher.messages) == said_before:
            # Taken as the step's answer (the problem, ids checked inline) but not answered.
            await self._answer(dispatcher, tracker)
        return values

    @staticmethod
    def _plain_no(said: Said) -> bool:
        """"不" / "不要" / a click on a no button at the offer to leave a message."""
        if read_handoff_contact(said.text) is not None or wants_phone(said.text):
            return False
        return said.text.startswith("/deny") or (
            said.intent == "deny" and said.confidence >= SURE_NO and len(said.text) <= 6)

    async def _would_miss(self, requested: str, said: Said, tracker: Tracker) -> bool:
        """The message answers nothing the repair knows (no person, cancel, question…)."""
        free_text = requested in self.free_text_slots
        move = classify(said, await self._parse(requested, said, tracker), free_text=free_text,
                        can_skip=self._is_skip(requested, said, free_text),
                        asks_who=self.asks_who)
        return move in (Move.MISS, Move.ACK)

    @staticmethod
    def _problem(tracker: Tracker) -> str | None:
        return tracker.get_slot("handoff_problem")

    @staticmethod
    def _other_paused(tracker: Tracker) -> bool:
        paused = tracker.get_slot(PAUSED_FORM)
        return bool(paused) and paused != "handoff_form"

    def _verification_ahead(self, tracker: Tracker) -> bool:
        context = self.context(tracker)
        return context is not None and not (context.merchant_id or context.locked) \
            and tracker.get_slot("handoff_verify") is None

    async def _answer_question(self, dispatcher: CollectingDispatcher,
                               tracker: Tracker) -> bool:
        if self._verification_ahead(tracker) and OWN_STATE_ASK.search(Said.of(tracker).text):
            # "我这个商户号为啥老提示交易异常，是不是被限制了？": only the account answers it.
            dispatcher.utter_message(text=DEFERRED, **{NOTE_KEY: "deferred"})
            return True
        return await answer_faq(dispatcher, tracker)

    async def _answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        """A question that is also the problem (or came with the ids): answered as it
        would be outside the handoff; one that needs the account, once verified."""
        if await self._answer_question(dispatcher, tracker):
            return
        if self._verification_ahead(tracker):
            dispatcher.utter_message(text=DEFERRED, **{NOTE_KEY: "deferred"})
            return
        if not await answer_candidate(dispatcher, tracker):
            dispatcher.utter_message(text=KEPT_FOR_AGENT)

    async def _about_intake(self, about: About, dispatcher: CollectingDispatcher,
                            tracker: Tracker) -> None:
        """"客服知道我是啥问题吧" / "还要等多久" before anything was filed."""
        context = self.context(tracker)
        if about is About.WAIT:
            if context is not None and context.serving:
                wait = await prospective_wait()
                ahead = "" if wait is None or wait.nobody_online else (
                    f"现在排上的话下一个就是你，预计约{wait.minutes}分钟。" if wait.position == 1
                    else f"现在排上的话前面有{wait.position - 1}位，预计约{wait.minutes}分钟。")
                dispatcher.utter_message(text="问完这一步就帮你排队。" + ahead)
            else:
                hours = ServiceHours.from_env()
                closed = "" if hours.is_open(utcnow()) else "现在不在人工服务时间，"
                dispatcher.utter_message(text=(
                    f"{closed}{hours.when_answered(utcnow())}按先后处理留言。"
                    "选好联系方式，留言就记下了。"))
            return
        problem = self._problem(tracker)
        knows = asks_if_agent_knows(Said.of(tracker).text)
        if not problem or problem == NO_PROBLEM:
            dispatcher.utter_message(text=(
                "会的。" if knows else "还没记。") +
                "你用一句话说说问题，我记下来交给客服，客服接入后就不用你再说一遍。")
            return
        known = f"，也能看到你的账户情况（商户号 {mask_merchant_id(context.merchant_id)}）" \
            if context is not None and context.merchant_id else ""
        filed = "" if knows or context is None or context.serving else \
            "留言还没提交，选好联系方式就提交。"
        dispatcher.utter_message(text=(
            f"{filed}客服会看到你说的问题：{shown_problem(problem)}{known}，不用从头再说。"))

    def _pause(self, dispatcher: CollectingDispatcher, announce: bool = True,
               switch_to: str | None = None) -> dict[str, Any]:
        if switch_to is not None:
            return super()._pause(dispatcher, announce=announce, switch_to=switch_to)
        # Side questions or a step that does not go on: the request is queued with what
        # is known (see _repair_or_take), never paused out of the queue.
        return {FORM_STOP: QUEUE_ANYWAY, REPAIR_STATE: None, DIGRESSIONS: 0.0, MISSES: 0.0}

    def _miss(self, requested: str, dispatcher: CollectingDispatcher,
              tracker: Tracker) -> dict[str, Any]:
        if (tracker.get_slot(MISSES) or 0) + 1 >= MAX_MISSES:
            return self._pause(dispatcher, announce=False)  # no "stuck": just queue
        return super()._miss(requested, dispatcher, tracker)

    def _defaults(self, tracker: Tracker, values: dict[str, Any]) -> dict[str, Any]:
        def missing(slot: str) -> bool:
            return values.get(slot, tracker.get_slot(slot)) is None

        defaults: dict[str, Any] = {}
        if missing("handoff_problem"):
            defaults["handoff_problem"] = NO_PROBLEM
        if missing("handoff_verify"):
            defaults["handoff_verify"] = False
        # Never a contact: a message is left only once the merchant chose how.
        return defaults


class ActionAskHandoffContact(AskForSlot):
    """Outside working hours: says when people answer, then how to reach the merchant."""

    slot = "handoff_contact"

    def full_question(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> None:
        hours = ServiceHours.from_env()
        # In working hours with nobody signed in, say so: "不在服务时间" at 14:30 is false.
        why = f"现在不在人工服务时间（{hours.describe()}），" if not hours.is_open(utcnow()) \
            else "现在客服都不在线，"
        dispatcher.utter_message(response="utter_ask_handoff_contact", why=why)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot(REPAIR_STATE) == "remind" and reminded_lately(tracker):
            # Asked briefly again right after another reminder: other words, the buttons.
            dispatcher.utter_message(text=REMIND_CONTACT_AGAIN, buttons=CONTACT_BUTTONS,
                                     **{NOTE_KEY: "contact_again"})
            return []
        return await super().run(dispatcher, tracker, domain)


def reminded_lately(tracker: Tracker) -> bool:
    """The bot's previous turn ended with the brief contact question."""
    earlier = bot_events_since_user(tracker)
    return bool(earlier) and (earlier[0].get("metadata") or {}).get("utter_action") == \
        "utter_remind_handoff_contact"


class ActionHandoff(Action):
    """Queues the conversation for an agent, or leaves a ticket outside working hours."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        stop = tracker.get_slot(FORM_STOP)
        if stop:
            # Paused to verify first, or cancelled: the form said what happens next.
            return [SlotSet(FORM_STOP, None), SlotSet(SWITCH_TO, tracker.get_slot(SWITCH_TO))]
        reset = [SlotSet(slot, None) for slot in HANDOFF_SLOTS] + [
            SlotSet(SWITCH_TO, None), SlotSet("handoff_reason", None)]
        channel, sender_id = sender_key(tracker)
        problem = mask_personal_data(tracker.get_slot("handoff_problem") or "")
        contact = tracker.get_slot("handoff_contact")
        if contact == "declined":
            # "不用了" at the offer to leave a message: nothing is filed.
            dispatcher.utter_message(response="utter_handoff_ticket_declined")
            paused = tracker.get_slot(PAUSED_FORM)
            if paused and paused != "handoff_form":
                dispatcher.utter_message(text=RESUME_HINT)
            return reset
        reason = tracker.get_slot("handoff_reason") or "merchant_asked"

        def work(session: Session) -> tuple[str, dict[str, Any]]:
            existing = handoffs.open_handoff_for(session, channel, sender_id)
            if existing is not None:
                return self._standing(session, existing)
            merchant_id = repository.bound_merchant_id(session, channel, sender_id)
            serving = serving_now(session)
            handoff = handoffs.queue(
                session, channel, sender_id, reason, problem or None,
                merchant_id=merchant_id, ticket=not serving,
                contact_method=None if serving else ("chat" if contact in (None, "chat")
                                                     else "phone"),
                contact_phone=None if serving or contact in (None, "chat") else contact,
            )
            session.flush()
            if not serving:
                return "ticket", {"when": ServiceHours.from_env().when_answered(utcnow()),
                                  "contact": "电话联系你" if contact not in (None, "chat")
                                  else "在这里回复你"}
            return "queued", self._wait(session, handoff)

        try:
            outcome, values = await run_in_session(work)
        except DatabaseUnavailable:
            return reset + utter_busy(dispatcher)
        except handoffs.AlreadyOpen:
            outcome, values = "queued_before", {}
        if outcome in ("queued", "waiting"):
            say_place(dispatcher, outcome, values)
            await self._snapshot(tracker, channel, sender_id)
        elif outcome == "ticket":
            dispatcher.utter_message(response="utter_handoff_ticket", **values)
            await self._snapshot(tracker, channel, sender_id)
        elif outcome == "queued_before":
            dispatcher.utter_message(response="utter_handoff_waiting_unknown")
        # "agent": the agent answers; the bot says nothing.
        return reset

    @staticmethod
    def _wait(session: Session, handoff: Any) -> dict[str, Any]:
        wait = handoffs.wait_for(session, handoff)
        return {"ahead": wait.position - 1, "minutes": wait.minutes, "online": wait.agents}

    def _standing(self, session: Session, handoff: Any) -> tuple[str, dict[str, Any]]:
        if handoff.status == HandoffStatus.waiting:
            return "waiting", self._wait(session, handoff)
        if handoff.status == HandoffStatus.ticket:
            return "ticket", {"when": ServiceHours.from_env().when_answered(utcnow()),
                              "contact": "在这里回复你" if handoff.contact_method != "phone"
                              else "电话联系你"}
        return "agent", {}

    @staticmethod
    async def _snapshot(tracker: Tracker, channel: str, sender_id: str) -> None:
        """The account panel for the agent: what the assistant knows, masked."""
        try:
            merchant_id = await run_in_session(
                lambda s: repository.bound_merchant_id(s, channel, sender_id))
            if merchant_id is None:
                return
            account = await load_account(merchant_id, None)
            if account is None:
                return
            snapshot = json.dumps(account_snapshot(account), ensure_ascii=False)

            def save(session: Session) -> None:
                handoff = handoffs.open_handoff_for(session, channel, sender_id)
                if handoff is not None:
                    handoff.account_snapshot = snapshot

            await run_in_session(save)
        except DatabaseUnavailable:
            return  # the agent can still ask; the merchant is queued either way


class ActionStopWaiting(Action):
    """What the merchant says about their open request for a person.

    "不等了" leaves the queue; only words that say so leave it, anything else the model
    took for "不等了" ("排到我了吗", "那我等着") gets where the merchant stands. Once the
    conversation is queued or a message was left, the HandoffPolicy also sends here what
    ``core.handoff_followup`` reads as about that request: "取消留言" / "客服也别打给我了"
    (withdrawn, and said so), "记到留言里了没有" / "客服知道我是啥问题吧" (what it holds,
    masked), "还要等多久" (the place in the queue, or when messages are answered),
    "我的问题是…" (added to it; ids in it are the identity check)."""

    def name(self) -> str:
        return "action_stop_waiting"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        said = Said.of(tracker)
        about = about_handoff(said.text, after_handoff_message(tracker))
        if about is None:
            return await self._stop_or_stand(dispatcher, tracker, said)
        if safety_of(said.text) is not None:
            await safety_first(dispatcher, tracker)  # safety first, also here
        if about is About.ADD:
            return await self._add(dispatcher, tracker, said.text)
        channel, sender_id = sender_key(tracker)

        def work(session: Session) -> tuple[str, dict[str, Any]]:
            handoff = handoffs.open_handoff_for(session, channel, sender_id)
            if handoff is None:
                latest = session.execute(
                    select(Handoff).where(Handoff.channel == channel,
                                          Handoff.sender_id == sender_id)
                    .order_by(Handoff.id.desc()).limit(1)).scalar_one_or_none()
                withdrawn = latest is not None and latest.status == HandoffStatus.cancelled \
                    and latest.contact_method is not None
                return ("withdrawn_before" if withdrawn else "none"), {}
            if handoff.status == HandoffStatus.agent:
                return "agent", {}
            if about is About.CANCEL:
                if handoff.status == HandoffStatus.ticket:
                    withdraw_ticket(session, handoff)
                    return "withdrawn", {}
                handoffs.cancel(session, channel, sender_id)
                return "cancelled", {}
            if about is About.WAIT:
                if handoff.status == HandoffStatus.waiting:
                    return ActionHandoff()._standing(session, handoff)
                return "ticket_wait", {"ahead": tickets_ahead(session, handoff),
                                       "contact": contact_words(handoff.contact_method,
                                                                handoff.contact_phone),
                                       "online": handoffs.online_agents(session)}
            return "recorded", {
                "ticket": handoff.status == HandoffStatus.ticket,
                "problem": handoff.problem, "merchant_id": handoff.merchant_id,
                "contact": contact_words(handoff.contact_method, handoff.contact_phone)}

        try:
            outcome, values = await run_in_session(work)
        except DatabaseUnavailable:
            return utter_busy(dispatcher)
        note = {ANSWER_KEY: outcome}
        if outcome == "none":
            dispatcher.utter_message(response="utter_handoff_not_waiting")
        elif outcome == "withdrawn_before":
            dispatcher.utter_message(text=ALREADY_WITHDRAWN)
        elif outcome == "withdrawn":
            dispatcher.utter_message(text=TICKET_WITHDRAWN, **note)
        elif outcome == "cancelled":
            dispatcher.utter_message(response="utter_handoff_cancelled")
        elif outcome == "waiting":
            say_place(dispatcher, outcome, values)
        elif outcome == "ticket":
            dispatcher.utter_message(response="utter_handoff_ticket", **values)
        elif outcome == "ticket_wait":
            dispatcher.utter_message(text=ticket_wait_text(**values), **note)
        elif outcome == "recorded":
            dispatcher.utter_message(text=recorded_text(**values), **note)
        return []

    async def _stop_or_stand(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                             said: Said) -> list[EventType]:
        if said.text.startswith("/") or EXPLICIT_STOP.search(said.text):
            await stop_waiting(dispatcher, tracker)
            return []
        channel, sender_id = sender_key(tracker)

        def work(session: Session) -> tuple[str, dict[str, Any]] | None:
            existing = handoffs.open_handoff_for(session, channel, sender_id)
            return None if existing is None else ActionHandoff()._standing(session, existing)

        try:
            standing = await run_in_session(work)
        except DatabaseUnavailable:
            return utter_busy(dispatcher)
        if standing is None:
            dispatcher.utter_message(response="utter_handoff_not_waiting")
            return []
        outcome, values = standing
        if outcome == "waiting":
            say_place(dispatcher, outcome, values)
        elif outcome == "ticket":
            dispatcher.utter_message(response="utter_handoff_ticket", **values)
        return []

    async def _add(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                   text: str) -> list[EventType]:
        """"我的问题是…，商户号… 后四位…": added to the request; the ids are the check."""
        channel, sender_id = sender_key(tracker)
        events: list[EventType] = []
        ids = inline_ids(text)
        try:
            bound = await run_in_session(
                lambda s: repository.bound_merchant_id(s, channel, sender_id))
            if ids is not None and bound is None:
                result = await check_inline(channel, sender_id, *ids)
                if result == "ok":
                    masked = mask_merchant_id(ids[0])
                    dispatcher.utter_message(response="utter_verified",
                                             verified_merchant=masked)
                    events.append(SlotSet("verified_merchant", masked))
                else:
                    dispatcher.utter_message(response="utter_handoff_verify_failed")
            events += [SlotSet("merchant_id", None), SlotSet("phone_last4", None)]

            def work(session: Session) -> HandoffStatus | None:
                handoff = handoffs.open_handoff_for(session, channel, sender_id)
                if handoff is None or handoff.status == HandoffStatus.agent:
                    return None
                handoff.problem = mask_personal_data(joined_problem(handoff.problem, text))
                handoff.merchant_id = handoff.merchant_id or repository.bound_merchant_id(
                    session, channel, sender_id)
                handoff.updated_at = utcnow()
                return handoff.status

            status = await run_in_session(work)
        except DatabaseUnavailable:
            return utter_busy(dispatcher)
        if status is None:
            dispatcher.utter_message(response="utter_handoff_not_waiting")
            return events
        where = "已补充到留言里，客服会一并看到：" if status == HandoffStatus.ticket \
            else "已补充给客服，接入后会一并看到："
        dispatcher.utter_message(text=where + shown_problem(clean_problem(text)),
                                 **{ANSWER_KEY: "added"})
        await ActionHandoff._snapshot(tracker, channel, sender_id)
        return events


def recorded_text(ticket: bool, problem: str | None, merchant_id: str | None,
                  contact: str) -> str:
    """What the agent will see, masked: "记到留言里了没有", "客服知道我是啥问题吧"."""
    who = f"商户号 {mask_merchant_id(merchant_id)}（已核对身份）" if merchant_id \
        else "还没核对，客服联系时会先帮你核实"
    lines = [f"问题：{shown_problem(problem)}", f"身份：{who}"]
    if ticket:
        lines.append(f"联系方式：{contact}")
        return ("记下了，客服会看到这些：\n" + "\n".join(lines) +
                f"\n{ServiceHours.from_env().when_answered(utcnow())}会{contact}，不用从头再说。")
    return "记下了，客服接入后会先看到这些：\n" + "\n".join(lines) + "\n不用从头再说。"


def ticket_wait_text(ahead: int, contact: str, online: int = 1) -> str:
    """"还要等多久" after leaving a message: honest, from the list of messages and who is
    online (nobody online: not "客服正在处理", and no time promised)."""
    place = "你的留言排在最前面" if ahead == 0 else f"你前面还有{ahead}条留言"
    hours = ServiceHours.from_env()
    if hours.is_open(utcnow()):
        if online <= 0:
            return (f"现在还没有客服在线，说不准要等多久。有客服上线后按先后处理留言，{place}，"
                    f"会{contact}。着急的话可以拨打95017。")
        return f"客服正在按先后处理留言，{place}，会{contact}。着急的话可以拨打95017。"
    return (f"现在不在人工服务时间。{hours.when_answered(utcnow())}按先后处理留言，"
            f"{place}，会{contact}。着急的话可以拨打95017。")


def unserved_text(ahead: int, just_queued: bool = False) -> str:
    """The place in the queue with nobody online: said so, no minutes promised."""
    place = "下一个就是你" if ahead == 0 else f"前面还有{ahead}位"
    lead = "已帮你排上队" if just_queued else "你已经在排队了"
    return (f"{lead}，{place}。不过现在没有客服在线，说不准要等多久，有客服上线会按顺序接入。"
            "不想等了，回复“不等了”。")


def say_place(dispatcher: CollectingDispatcher, outcome: str, values: dict[str, Any]) -> None:
    """"queued" / "waiting": the place in the queue and the measured wait; with nobody
    online, that nobody is (never "约1分钟")."""
    ahead = int(values["ahead"])
    if int(values.get("online", 1)) <= 0:
        dispatcher.utter_message(text=unserved_text(ahead, outcome == "queued"),
                                 **{ANSWER_KEY: "waiting"})
        return
    first = "_next" if ahead == 0 else ""
    dispatcher.utter_message(response=f"utter_handoff_{outcome}{first}", ahead=ahead,
                             minutes=values["minutes"])


class ValidateSatisfactionForm(RepairingForm):
    pause_response = "utter_score_skipped"
    resumable = False

    def name(self) -> str:
        return "validate_satisfaction_form"

    async def parse_satisfaction_score(self, said: Said, tracker: Tracker) -> Answer | None:
        picked = pick(said.text.replace("分", "").replace("星", ""), ["1", "2", "3", "4", "5"])
        return Answer(float(picked)) if picked else None


class ActionRecordSatisfaction(Action):
    def name(self) -> str:
        return "action_record_satisfaction"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reset = [SlotSet("satisfaction_score", None), SlotSet(FORM_STOP, None)]
        score = tracker.get_slot("satisfaction_score")
        if tracker.get_slot(FORM_STOP) or score is None:
            return reset
        channel, sender_id = sender_key(tracker)
        with contextlib.suppress(DatabaseUnavailable):  # the thanks matter more
            await run_in_session(
                lambda s: handoffs.record_satisfaction(s, channel, sender_id, int(score)))
        dispatcher.utter_message(
            response="utter_thanks_for_score" if score >= 3 else "utter_sorry_for_score")
        return reset
