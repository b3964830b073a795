"""Handing a conversation to a person, without the merchant repeating a word.

"转人工" (or the last step of a misunderstanding, or a lock-out) starts a short form:
the problem in one sentence (skipped when the conversation already says it), an offer
to verify identity first (so the agent sees the account), and, outside working hours
or with nobody online, how to reach the merchant. Then the conversation is queued in
the ``handoffs`` table with the position and a realistic wait, or a message (留言) is
left as a ticket. While waiting the merchant can keep asking the bot or say "不等了".
While an agent holds the conversation the bot stays silent
(``addons.policies.handoff.HandoffPolicy``); when the agent closes it, the console
triggers ``handoff_closed`` and the bot asks for a 1-5 score.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.account import account_snapshot, load_account
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
from actions.repair import CANCEL, CORRECTION, HUMAN, RESTART, Said, safety_of
from actions.verification import MERCHANT_ID, extract_last4
from actions.waiting import stop_waiting
from core.answers import UNSURE, read_handoff_contact, read_handoff_verify
from core.choices import pick
from core.db import handoffs, repository
from core.db.models import HandoffStatus, utcnow
from core.privacy import mask_merchant_id, mask_personal_data
from core.service_hours import ServiceHours

HANDOFF_SLOTS = ["handoff_problem", "handoff_verify", "handoff_contact"]
# What is left of "转人工，我的钱冻结了" once the request for a person is taken out.
POLITE = re.compile(r"^(请|麻烦|帮我|给我|我要|我想|快|赶紧|能不能|可以)+")
PUNCTUATION = re.compile(r"[\s,，。.!！?？~～、;；:：]+")
MIN_PROBLEM = 4
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
    r"\s*[:：是为]?\s*\d{4,}", re.IGNORECASE)
NO_PROBLEM = "（商户没有说明，请客服先询问）"
# "不用了" at "要先核对身份吗？" declines the check, not the person.
DECLINE_STEP = re.compile(r"^\s*(不用了?|不需要了?|不要了?|不必了?|不了)\s*[，,。.!！]?\s*(谢谢)?\s*$")
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
            CORRECTION.search(text) and not said.is_question):
        return None
    if len(words_of(text)) < MIN_PROBLEM:
        return None
    return text[:MAX_PROBLEM]


def problem_from_conversation(tracker: Tracker) -> str | None:
    """The problem, when the conversation already says it: the request itself
    ("转人工，钱冻结了怎么办"), the question asked just before, or the form that paused."""
    text = (tracker.latest_message or {}).get("text") or ""
    text = BARE_IDS.sub(" ", LABELLED_IDS.sub(" ", text))
    rest = POLITE.sub("", PUNCTUATION.sub(" ", HUMAN.sub(" ", text)).strip()).strip()
    if len(words_of(rest)) >= MIN_PROBLEM and not rest.startswith("/"):
        return rest
    for event in previous_user_messages(tracker)[:1]:
        said = (event.get("text") or "").strip()
        # Even a message the model missed is the merchant's own words, if it has some.
        if intent_of(event) not in NOT_A_PROBLEM and not said.startswith("/") \
                and len(CHINESE.findall(said)) >= MIN_PROBLEM:
            return said
    return PAUSED_PROBLEM.get(tracker.get_slot(PAUSED_FORM) or "")


def inline_ids(text: str) -> tuple[str, str] | None:
    """A merchant id and the last 4 digits of the phone in one message, or None."""
    match = MERCHANT_ID.search(text or "")
    if not match:
        return None
    last4 = extract_last4(text[:match.start()] + " " + text[match.end():])
    return (match.group(1), last4) if last4 else None


def check_inline(channel: str, sender_id: str, merchant_id: str, last4: str) -> Any:
    """The identity check on ids sent at a handoff step: the same counting and lock-outs
    as the identity check form (actions.verification)."""

    def work(session: Session) -> str:
        if repository.is_locked(session, channel, sender_id):
            return "locked"
        if repository.merchant_id_locked(session, merchant_id):
            return "locked"
        if repository.check_identity(session, channel, sender_id, merchant_id, last4):
            return "ok"
        return "locked" if repository.is_locked(session, channel, sender_id) else "failed"

    return run_in_session(work)


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
        text = said.text.strip()
        if len(words_of(text)) < MIN_PROBLEM or text.startswith("/"):
            return None  # an id, "1900000003 0003", a payload: not a description
        return Answer(text[:MAX_PROBLEM])

    async def skip_handoff_problem(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        return {"handoff_problem": NO_PROBLEM}

    async def parse_handoff_verify(self, said: Said, tracker: Tracker) -> Answer | None:
        if tracker is not None and tracker.slots.get(VERIFIED_NOW):
            return Answer(False)  # checked inline just now: no separate check
        value = read_handoff_verify(said.text, said.intent)
        if value is None or value is UNSURE:
            return None
        return Answer(value)

    async def skip_handoff_verify(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        return {"handoff_verify": False}

    async def parse_handoff_contact(self, said: Said, tracker: Tracker) -> Answer | None:
        value = read_handoff_contact(said.text)
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
        if requested == "handoff_verify" and DECLINE_STEP.match(said.text):
            return {"handoff_verify": False, **calm}  # the check is declined, not the person
        if requested == "handoff_contact" and safety_of(said.text) is None and (
                DECLINE_TICKET.match(said.text) or read_handoff_contact(said.text) == "declined"):
            return {"handoff_contact": "declined", **calm}  # no message is left
        values = await super()._repair_or_take(requested, dispatcher, tracker, domain)
        if values.get(FORM_STOP) == QUEUE_ANYWAY:
            values = {**values, **self._defaults(tracker, values), FORM_STOP: None}
            if requested == "handoff_contact" and LEAVING.search(said.text):
                # "好的，我明天打95017" at the offer to leave a message: none is left.
                values["handoff_contact"] = "declined"
        return values

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
        if missing("handoff_contact"):
            defaults["handoff_contact"] = "chat"
        return defaults


class ActionAskHandoffContact(AskForSlot):
    """Outside working hours: says when people answer, then how to reach the merchant."""

    slot = "handoff_contact"

    def full_question(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> None:
        dispatcher.utter_message(response="utter_ask_handoff_contact",
                                 hours=ServiceHours.from_env().describe())


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
                return "ticket", {"hours": ServiceHours.from_env().describe(),
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
            first = "_next" if values["ahead"] == 0 else ""
            dispatcher.utter_message(response=f"utter_handoff_{outcome}{first}", **values)
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
        return {"ahead": wait.position - 1, "minutes": wait.minutes}

    def _standing(self, session: Session, handoff: Any) -> tuple[str, dict[str, Any]]:
        if handoff.status == HandoffStatus.waiting:
            return "waiting", self._wait(session, handoff)
        if handoff.status == HandoffStatus.ticket:
            return "ticket", {"hours": ServiceHours.from_env().describe(),
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
    """"不等了": leaves the queue. Only words that say so leave it; anything else the
    model took for "不等了" ("排到我了吗", "那我等着") gets where the merchant stands."""

    def name(self) -> str:
        return "action_stop_waiting"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        said = Said.of(tracker)
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
            first = "_next" if values["ahead"] == 0 else ""
            dispatcher.utter_message(response=f"utter_handoff_waiting{first}", **values)
        elif outcome == "ticket":
            dispatcher.utter_message(response="utter_handoff_ticket", **values)
        return []


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
