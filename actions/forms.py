"""One repair mechanism for every form: safety first, answer the digression, never nag,
never take a question for an answer.

Each form's validation action subclasses ``RepairingForm``. Rasa calls it after every
message while the form is active (the form never rejects, so no per-intent rules are
needed), and the class decides, through ``actions.repair.classify``, what the message
is before anything is stored, in one order of precedence (see ``actions.repair``):

- a code or password given away, money paid to a fake helper: the emergency answer
  first, and the form pauses ("继续" resumes it); the same when the message starts a
  form, unless it also asks for a person;
- a scam in progress: the anti-scam warning first, then the rest of the message is
  read as usual (an answer is still taken), never the step's format hint;
- a request for a person: the form pauses (answers kept) and the person is offered;
- cancel; a closing ("好的我明天打95017"): acknowledged, the form pauses; thanks: a
  short reply and a brief re-ask;
- "我是服务商" / "我没有商户号" where the form checks who is asking: that check ends
  with what they can do (``on_not_merchant``);
- an answer: stored, and the form asks the next question in full;
- cancel / restart / a correction of an earlier answer / "I don't know": handled, and
  the form goes on;
- a digression (a question, thanks, another task): answered, then the form asks again
  once, briefly; after a second digression in a row it pauses and offers to continue
  later; coming back to it (or "好" right after the offer) resumes where it was;
- a bare "好的" that answers nothing: a brief re-ask (a digression, not a miss);
- a miss: what is needed, with an example; then the ways out; then a person or 95017.

The question itself is asked by ``actions.ask.AskForSlot`` (``action_ask_<slot>``),
which reads ``repair_state`` to ask in full, briefly, or not at all (a hint already
said it). Side effects (database work, messages) happen once per turn in ``run``;
``required_slots`` only reads slots, because rasa-sdk calls it several times a turn.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import latest_text
from actions.guidance import answer_faq, safety_first
from actions.knowledge import answer_other_asks, answer_top_entry
from actions.repair import (
    CHITCHAT_INTENTS,
    CORRECTION,
    EMERGENCIES,
    LONG_STORY,
    SHORT_QUESTION,
    SKIP,
    TASK_INTENTS,
    Move,
    Said,
    classify,
    is_digression,
    role_of,
    wants_person,
)
from actions.waiting import stop_waiting

REQUESTED_SLOT = "requested_slot"
# Everything up to the last correction word: what follows is the new value.
CORRECTION_TAIL = re.compile(
    r"^.*(应该是|改成|改为|换成|其实是|说错了|填错了|写错了|选错了|打错了|错了|不对|是)"
)
# What a correction says around its new value ("我想修改一下情况说明"): nothing new.
CORRECTION_FILLER = re.compile(r"[我想要帮再重新下一个的吧啊呢呀，,。.：:！!\s]+")
# Where a new free-text value starts: after the first of these.
FREE_TEXT_START = re.compile(r"(改成|改为|换成|写成|应该是|重新写|重写)[：:，,\s]*|[：:]\s*")


def free_text_tail(text: str, slot_words: re.Pattern[str]) -> str:
    """The new story in "情况说明改成：……" (or "说明改一下 我卖水果……")."""
    start = FREE_TEXT_START.search(text)
    if start:
        return text[start.end():].strip()
    rest = CORRECTION.sub("", text, count=1)
    return re.sub(rf"^(?:{slot_words.pattern}|[的一下我想要帮把再，,。.：:\s])+", "", rest).strip()


# "我刚才不是说了嘛，就这么写": the story was told before the step asked for it.
REFER_BACK = re.compile(
    r"(刚才|刚刚|前面|上面|之前|已经|早就)(不是)?(都|也)?(跟你)?(说|讲|写|发|告诉你)(了|过|的)"
    r"|就?(按|照)(着)?(这|那|上面|前面|刚才|我说)的?(个|样|么|些)?(写|填|来)"
    r"|就(这|那)(么|样)(写|填)")
# How far back a story told earlier is looked for, in user messages.
STORY_LOOKBACK = 6
STORY_MIN = 15


def earlier_story(tracker: Tracker) -> str | None:
    """The longest story among the merchant's recent messages before this one."""
    texts = [str(event.get("text") or "").strip() for event in tracker.events
             if event.get("event") == "user"][:-1][-STORY_LOOKBACK:]
    stories = [text for text in texts if len(text) >= STORY_MIN and not text.startswith("/")
               and not REFER_BACK.search(text)]
    return max(stories, key=len) if stories else None


# Why a form ended before it was complete: "cancelled" or "paused" (answers kept).
FORM_STOP = "form_stop"
# The form that paused and can be resumed; rules resume it on "好" / "继续".
PAUSED_FORM = "paused_form"
# How the form's question is asked this turn: None in full, "remind" briefly, "quiet" not
# at all (a hint already said what is needed).
REPAIR_STATE = "repair_state"
DIGRESSIONS = "repair_digressions"
MISSES = "repair_misses"
# A form to start right after this one paused (e.g. the advisor hands over to the
# identity check when the merchant asks about their account).
SWITCH_TO = "switch_to"

MAX_DIGRESSIONS = 2  # in a row: the form pauses instead of asking a third time
MAX_MISSES = 3  # in a row: a person or 95017 is offered and the form pauses


# An answer followed by a question of its own ("用绑定手机。对了，要交哪些材料？").
TRAILING_QUESTION = re.compile(r"[。.！!，,；;]\s*(对了|另外|还有|顺便|那|请问)?[^。.！!，,；;]{3,}[?？吗呢]\s*$")


@dataclass(frozen=True)
class Answer:
    """A parsed answer. A keyword guess (``sure=False``) yields to a digression."""

    value: Any
    sure: bool = True


Parser = Callable[[Said, Tracker], Awaitable[Answer | None]]


# A cancel longer than this that asks something carries a question to answer.
CANCEL_WITH_QUESTION = 8


class RepairingForm(FormValidationAction, abc.ABC):
    """Validation of one form, with conversation repair. Subclasses define, per slot,
    ``parse_<slot>(said, tracker) -> Answer | None`` and optionally
    ``skip_<slot>(dispatcher, tracker) -> dict`` (slot values; ``{}`` after a hint)."""

    #: Words that name a slot in a correction ("手机号说错了" -> the phone slot).
    slot_words: dict[str, re.Pattern[str]] = {}
    #: Free-text slots: a story is an answer unless it is asked as a question.
    free_text_slots: frozenset[str] = frozenset()
    # Free-text steps where a question is the answer itself ("你遇到什么问题？"): kept,
    # and answered too, never a digression from the step.
    question_slots: frozenset[str] = frozenset()
    #: "I don't know" patterns per slot, when the generic one is not the right test.
    skip_words: dict[str, re.Pattern[str]] = {}
    #: Said when the form pauses; tells how to come back.
    pause_response: str = "utter_form_paused"
    #: Said when the merchant closes or says goodbye inside the form: a goodbye, never
    #: another question ("拜拜" answered with "要继续核对身份吗？" is nagging).
    closing_response: str = "utter_goodbye_paused"
    #: A paused form can be resumed with "继续" (not, e.g., a satisfaction question).
    resumable: bool = True
    #: The form checks who is asking: "我是服务商" / "我没有商户号" is a move of its own
    #: (``on_not_merchant``), not a miss.
    asks_who: bool = False
    #: Slots read from the whole message even when Rasa extracted an entity for them
    #: ("1900 0000 02" holds no phone digits, though "1900" looks like four).
    whole_message_slots: frozenset[str] = frozenset()
    #: Slots read at every step: an answer to one of them given at another step is taken
    #: too ("1900000002" at the phone step is the merchant id, said again or corrected).
    any_step_slots: frozenset[str] = frozenset()
    #: The form starts from a merchant's request that may ask something else too
    #: ("帮我查下状态，冻结的钱还能提吗"): that other ask is answered when the form starts,
    #: not dropped for the form's first question.
    answers_other_asks: bool = False

    @abc.abstractmethod
    def name(self) -> str: ...

    # --- what subclasses may refine -----------------------------------------------------
    def active_slots(self, tracker: Tracker, domain: DomainDict) -> list[str]:
        """The slots this form still needs asked, in order (pure: reads slots only)."""
        return self.domain_slots(domain)

    async def prepare(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Side effects once per turn, before anything else (slot values to set)."""
        return {}

    async def after_answers(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Runs when the turn stored answers (e.g. the identity check itself)."""
        return {}

    async def on_task(
        self, intent: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any] | None:
        """Another task asked for inside the form. Slot values if handled here (the form
        goes on), None to answer it as a question."""
        return None

    def is_stopped(self, tracker: Tracker) -> bool:
        """True when the form has nothing more to ask for another reason."""
        return False

    async def on_start(
        self, said: Said, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """Runs when the form starts (after the safety check): slot values; a FORM_STOP
        value ends the form before its first question."""
        return {}

    async def on_not_merchant(
        self, role: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """"我是服务商" / "我没有商户号" in a form that ``asks_who``: slot values."""
        return {}

    async def on_human(
        self, requested: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """"转人工" at any step: this form waits (answers kept, "继续" resumes it later)
        and the handoff starts."""
        dispatcher.utter_message(response="utter_form_waits_for_person")
        return self._pause(dispatcher, announce=False, switch_to="handoff_form")

    # --- Rasa plumbing --------------------------------------------------------------------
    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot(FORM_STOP) or self.is_stopped(tracker):
            return []
        return self.active_slots(tracker, domain)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        values: dict[str, Any] = {}

        def update(new: dict[str, Any]) -> None:
            values.update(new)
            tracker.slots.update(new)

        update(await self.prepare(dispatcher, tracker, domain))
        requested = tracker.get_slot(REQUESTED_SLOT)
        if requested is None:
            # Activation: start fresh, keeping answers given earlier (a resumed form).
            update({FORM_STOP: None, SWITCH_TO: None, REPAIR_STATE: None,
                    DIGRESSIONS: 0.0, MISSES: 0.0})
            if tracker.get_slot(PAUSED_FORM) == self.form_name():
                update({PAUSED_FORM: None})  # another paused form stays resumable
            update(await self._validate_extracted(tracker, exclude=set(values)))
            update(await self._start(dispatcher, tracker))
        else:
            update(await self._repair_or_take(requested, dispatcher, tracker, domain))
        if self._answered(values, domain) and not tracker.get_slot(FORM_STOP):
            update(await self.after_answers(dispatcher, tracker, domain))
        missing = [slot for slot in await self.required_slots(
            self.domain_slots(domain), dispatcher, tracker, domain)
            if tracker.get_slot(slot) is None]
        values.setdefault(REPAIR_STATE, tracker.get_slot(REPAIR_STATE))
        return [SlotSet(slot, value) for slot, value in values.items()] + [
            SlotSet(REQUESTED_SLOT, missing[0] if missing else None)
        ]

    def _answered(self, values: dict[str, Any], domain: DomainDict) -> bool:
        return any(values.get(slot) is not None for slot in self.domain_slots(domain))

    # --- one message inside the form ------------------------------------------------------
    async def _parse(self, slot: str, said: Said, tracker: Tracker) -> Any:
        parser: Parser | None = getattr(self, f"parse_{slot}", None)
        answer = await parser(said, tracker) if parser else None
        if answer is None:
            return None
        if not answer.sure and is_digression(said, slot in self.free_text_slots) and not (
            self._names(slot, said) and not said.is_question
        ):
            # A keyword guess loses to another topic, unless the message is about this
            # very question ("有小程序" when asked about a mini-program).
            return None
        return answer.value

    async def _answers_elsewhere(self, requested: str, said: Said,
                                 tracker: Tracker) -> dict[str, Any]:
        """Answers to the other ``any_step_slots`` in this message."""
        found: dict[str, Any] = {}
        for slot in sorted(self.any_step_slots - {requested}):
            value = await self._parse(slot, said, tracker)
            if value is not None:
                found[slot] = value
        return found

    def _names(self, slot: str, said: Said) -> bool:
        words = self.slot_words.get(slot)
        return bool(words and words.search(said.text))

    async def _validate_extracted(self, tracker: Tracker, exclude: set[str]) -> dict[str, Any]:
        """Values Rasa extracted this turn from entities (e.g. a merchant id typed at the
        phone step): each goes through its slot's parser like a typed answer."""
        values: dict[str, Any] = {}
        for slot, raw in tracker.slots_to_validate().items():
            if slot in exclude or not hasattr(self, f"parse_{slot}") or raw is None:
                continue
            if not isinstance(raw, str):
                values[slot] = raw  # a yes/no or number kept from earlier: already parsed
                continue
            said = Said(text=raw)
            if slot in self.whole_message_slots and raw in latest_text(tracker):
                said = Said.of(tracker)  # taken from this message: read it whole
            values[slot] = await self._parse(slot, said, tracker)
        return values

    async def _start(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        """The message that started the form, safety first: after an emergency the
        form waits ("继续" resumes it), unless the merchant also asked for a person."""
        said = Said.of(tracker)
        if await safety_first(dispatcher, tracker) in EMERGENCIES and not wants_person(said):
            return self._pause_for_safety(dispatcher)
        if self.answers_other_asks:
            await answer_other_asks(dispatcher, tracker, None)
        return await self.on_start(said, dispatcher, tracker)

    def _pause_for_safety(self, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        values = self._pause(dispatcher, announce=False)
        if values.get(FORM_STOP) == "paused" and self.resumable:
            # (A form that never pauses, like the handoff, just goes on.)
            dispatcher.utter_message(response="utter_form_paused_for_safety")
        return values

    async def _repair_or_take(
        self, requested: str, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        said = Said.of(tracker)
        parsed = await self._parse(requested, said, tracker)
        elsewhere = await self._answers_elsewhere(requested, said, tracker)
        free_text = requested in self.free_text_slots
        told_before = None
        if free_text and REFER_BACK.search(said.text) and len(said.text) < LONG_STORY:
            story = earlier_story(tracker)
            told_before = await self._parse(requested, Said(text=story), tracker) \
                if story else None
        can_skip = self._is_skip(requested, said, free_text)

        def kind(safety: bool = True) -> Move:
            answer = parsed if parsed is not None or not elsewhere else elsewhere
            return classify(said, answer, free_text=free_text, can_skip=can_skip,
                            asks_who=self.asks_who, safety=safety)

        move = kind()
        kept_question = move == Move.DIGRESS and parsed is not None \
            and requested in self.question_slots
        if kept_question:
            move = Move.ANSWER
        if move == Move.EMERGENCY:
            # Stop, 95017, the password, the bank first; the form waits for "继续".
            await safety_first(dispatcher, tracker)
            values = await self.on_human(requested, dispatcher, tracker) \
                if kind(safety=False) == Move.HUMAN else self._pause_for_safety(dispatcher)
        else:
            if move == Move.SCAM:
                # The warning first (a question answered by a scam entry is the warning);
                # then the rest of the message as usual, never the step's format hint.
                move = kind(safety=False)
                if move == Move.DIGRESS and (said.intent or "") in TASK_INTENTS:
                    # "有个顾问说交800块帮我解冻 靠谱吗" reads like a look-up; the scam is
                    # what it is about: its answer, then this step again.
                    move = Move.ACK
                await safety_first(dispatcher, tracker, answers_entry=move == Move.DIGRESS)
                if move in (Move.MISS, Move.ACK):
                    move = Move.ACK
            if told_before is not None and move not in (
                    Move.HUMAN, Move.CANCEL, Move.CLOSING, Move.RESTART):
                move, parsed = Move.ANSWER, told_before
                dispatcher.utter_message(response="utter_free_text_from_earlier")
            reopened = self._reopened(move, requested, said, tracker, domain)
            if reopened is not None:
                return reopened
            if move == Move.ANSWER and free_text and said.is_question \
                    and is_digression(said, free_text=True):
                # The story is kept and the question in it answered: nothing asked twice.
                answered = await self._answer_question(dispatcher, tracker)
            elif move == Move.ANSWER and not free_text and TRAILING_QUESTION.search(said.text):
                # "用绑定手机。对了，要交哪些材料？": the answer taken, the question answered.
                answered = await self._answer_question(dispatcher, tracker)
            else:
                answered = False
            values = await self._take(move, requested, said, parsed, dispatcher, tracker,
                                      domain)
            if kept_question and answered:
                values[REPAIR_STATE] = "remind"  # the next step briefly, after the answer
            if move == Move.ANSWER and elsewhere:
                values.update({slot: value for slot, value in elsewhere.items()
                               if values.get(slot) is None})
                if parsed is None:
                    values[REPAIR_STATE] = "remind"  # this step's question again, briefly
        if move != Move.ANSWER:
            # What Rasa extracted from a message that was not an answer is not one either
            # ("交2000块" holds no phone digits).
            for slot in tracker.slots_to_validate():
                if slot in self.domain_slots(domain) and slot not in values:
                    values[slot] = None
        return values

    def _reopened(self, move: Move, requested: str, said: Said, tracker: Tracker,
                  domain: DomainDict) -> dict[str, Any] | None:
        """"类别有哪些可以选？" asked at a later step: that earlier question again, with
        its options (its answer cleared), then this step."""
        if move not in (Move.DIGRESS, Move.MISS, Move.ACK) or not said.is_question \
                or len(said.text) > SHORT_QUESTION:
            return None
        slots = self.domain_slots(domain)
        earlier = slots[: slots.index(requested)] if requested in slots else []
        named = next((slot for slot in earlier if tracker.get_slot(slot) is not None
                      and self._names(slot, said)), None)
        if named is None:
            return None
        return {named: None, **self._invalidated_by(named, domain), REPAIR_STATE: None,
                DIGRESSIONS: 0.0, MISSES: 0.0}

    async def _take(
        self, move: Move, requested: str, said: Said, parsed: Any,
        dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
    ) -> dict[str, Any]:
        calm = {REPAIR_STATE: None, DIGRESSIONS: 0.0, MISSES: 0.0}
        if move == Move.ANSWER:
            extracted = await self._validate_extracted(tracker, exclude={requested})
            return {**extracted, requested: parsed, **calm}
        if move == Move.HUMAN:
            return await self.on_human(requested, dispatcher, tracker)
        if move == Move.CANCEL:
            dispatcher.utter_message(response="utter_form_stopped")
            if said.is_question and len(said.text) > CANCEL_WITH_QUESTION:
                # "不继续了。申诉交了两周没结果正常吗": stopped, and the question answered.
                await answer_top_entry(dispatcher, tracker)
            return {**self._cleared(domain), FORM_STOP: "cancelled", PAUSED_FORM: None,
                    **calm}
        if move == Move.CLOSING:
            dispatcher.utter_message(response=self.closing_response)
            return self._pause(dispatcher, announce=False)
        if move == Move.THANKS:
            dispatcher.utter_message(response="utter_thank_short")
            return self._reminded(dispatcher, tracker)
        if move == Move.RESTART:
            dispatcher.utter_message(response="utter_form_restart")
            return {**self._cleared(domain), **calm}
        if move == Move.CORRECT:
            return {**await self._correct(requested, said, dispatcher, tracker, domain),
                    **calm}
        if move == Move.NOT_MERCHANT:
            role = role_of(said.text) or ""
            return {**await self.on_not_merchant(role, dispatcher, tracker), MISSES: 0.0}
        if move == Move.SKIP:
            skipped = await getattr(self, f"skip_{requested}")(dispatcher, tracker)
            state = None if skipped.get(requested) is not None else "quiet"
            return {REPAIR_STATE: state, MISSES: 0.0, **skipped}
        if move == Move.DIGRESS:
            return await self._digress(said, dispatcher, tracker)
        if move == Move.ACK:
            # "好的" that answers nothing: what the step needs, briefly.
            return self._reminded(dispatcher, tracker)
        return self._miss(requested, dispatcher, tracker)

    def _reminded(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        """Something other than an answer was handled: ask again briefly, or pause after
        the second time in a row."""
        count = (tracker.get_slot(DIGRESSIONS) or 0) + 1
        if count >= MAX_DIGRESSIONS:
            return self._pause(dispatcher)
        return {REPAIR_STATE: "remind", DIGRESSIONS: float(count), MISSES: 0.0}

    def _is_skip(self, slot: str, said: Said, free_text: bool) -> bool:
        """"I don't know" for a slot with a way around it. "在哪提交申诉？" is a question
        about something else, "商户号在哪看" and a bare "不知道" are not."""
        if not hasattr(self, f"skip_{slot}"):
            return False
        if not self.skip_words.get(slot, SKIP).search(said.text):
            return False
        return (self._names(slot, said) or len(said.text) <= 8
                or not is_digression(said, free_text))

    async def _answer_question(self, dispatcher: CollectingDispatcher,
                               tracker: Tracker) -> bool:
        """The question inside a step's answer, answered (False if nothing fits)."""
        return await answer_faq(dispatcher, tracker)

    def _cleared(self, domain: DomainDict) -> dict[str, Any]:
        return {slot: None for slot in self.domain_slots(domain)}

    def _pause(self, dispatcher: CollectingDispatcher, announce: bool = True,
               switch_to: str | None = None) -> dict[str, Any]:
        if announce:
            dispatcher.utter_message(response=self.pause_response)
        values = {FORM_STOP: "paused", SWITCH_TO: switch_to, REPAIR_STATE: None,
                  DIGRESSIONS: 0.0, MISSES: 0.0}
        if self.resumable:
            values[PAUSED_FORM] = self.form_name()
        return values

    async def _digress(
        self, said: Said, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        intent = said.intent or ""
        if intent == "goodbye":
            dispatcher.utter_message(response=self.closing_response)
            return self._pause(dispatcher, announce=False)
        if intent == "stop_waiting":
            await stop_waiting(dispatcher, tracker)
            return {REPAIR_STATE: "remind"}
        task = await self.on_task(intent, dispatcher, tracker) if intent in TASK_INTENTS \
            else None
        if task is not None and task.get(FORM_STOP):
            return task  # the form paused for another task
        if task is None:
            if intent == "greet":
                dispatcher.utter_message(response="utter_greet_short")
            elif intent == "thank":
                dispatcher.utter_message(response="utter_thank_short")
            elif intent not in CHITCHAT_INTENTS and not await answer_faq(dispatcher, tracker):
                dispatcher.utter_message(response="utter_digression_unclear")
        count = (tracker.get_slot(DIGRESSIONS) or 0) + 1
        if count >= MAX_DIGRESSIONS:
            return {**(task or {}), **self._pause(dispatcher)}
        return {**(task or {}), REPAIR_STATE: "remind", DIGRESSIONS: float(count)}

    def _miss(self, requested: str, dispatcher: CollectingDispatcher,
              tracker: Tracker) -> dict[str, Any]:
        count = (tracker.get_slot(MISSES) or 0) + 1
        if count >= MAX_MISSES:
            dispatcher.utter_message(response="utter_form_stuck")
            return self._pause(dispatcher, announce=False)
        if count == 1:
            dispatcher.utter_message(response=f"utter_hint_{requested}")
            return {REPAIR_STATE: "quiet", MISSES: float(count)}
        dispatcher.utter_message(response="utter_hint_ways_out")
        return {REPAIR_STATE: "remind", MISSES: float(count)}

    async def _correct(
        self, requested: str, said: Said, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """"刚才的手机号说错了": the named slot (or the one the new value fits, or the last
        one answered) is replaced by the value in the same message, or asked again."""
        slots = self.domain_slots(domain)
        # "不对 是一九零零零零零零零二，尾号0002": every slot read from the whole message
        # that the correction gives a value for at once.
        whole = {slot: await self._parse(slot, said, tracker)
                 for slot in slots if slot in self.whole_message_slots}
        whole = {slot: value for slot, value in whole.items() if value is not None}
        if len(whole) >= 2:
            dispatcher.utter_message(response="utter_correction_ack")
            return whole
        # The new value, if any, follows the correction words: "类别选错了，应该是3".
        tail = Said(text=CORRECTION_TAIL.sub("", said.text).strip(" ，,。.：:"))
        target = next((slot for slot, words in self.slot_words.items()
                       if slot in slots and words.search(said.text)), None)
        if target is not None:
            # "修改情况说明" names the slot and gives no new value: it is asked again.
            if target in self.free_text_slots:
                # A story keeps its own "是": "改成：我们是批发，客户都是老顾客".
                tail = Said(text=free_text_tail(said.text, self.slot_words[target]))
            rest = CORRECTION_FILLER.sub("", self.slot_words[target].sub(
                "", CORRECTION.sub("", tail.text)))
            value = await self._parse(target, tail, tracker) if rest else None
            dispatcher.utter_message(response="utter_correction_ack")
            return {target: value, **self._invalidated_by(target, domain)}
        for slot in slots:
            value = await self._parse(slot, said, tracker)
            if value is not None and slot != requested:
                dispatcher.utter_message(response="utter_correction_ack")
                return {slot: value, **self._invalidated_by(slot, domain)}
        answered = [slot for slot in slots[: slots.index(requested)]
                    if tracker.get_slot(slot) is not None] if requested in slots else []
        if not answered:
            dispatcher.utter_message(response="utter_correction_which")
            return {REPAIR_STATE: "quiet"}
        dispatcher.utter_message(response="utter_correction_ack")
        return {answered[-1]: None, **self._invalidated_by(answered[-1], domain)}

    def _invalidated_by(self, slot: str, domain: DomainDict) -> dict[str, Any]:
        """Slots whose answer depends on ``slot`` (e.g. a confirmation of the summary)."""
        return {}


class ActionResumeForm(Action):
    """"好" / "继续" after a form paused: the rules start the form again, which keeps
    the answers given before and asks for the next one."""

    def name(self) -> str:
        return "action_resume_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_resume")
        return [SlotSet(PAUSED_FORM, None)]
