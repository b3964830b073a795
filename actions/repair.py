"""What a message inside a form is: an answer, or something the form must handle first.

Every form runs each message through ``classify`` before anything is taken as a slot
value (see ``actions.forms.RepairingForm``). The rules, in order:

1. cancel ("算了"), restart ("重新来") and correction ("刚才的手机号说错了") words;
2. an answer the requested slot's own parser accepts ("1900000002", "2", "两万");
3. a request for a person ("转人工");
4. "I don't know" / "skip" for a slot that has a way around it;
5. a digression: another intent the model is sure of, or a message shaped like a
   question (a question is never stored as an answer);
6. anything else is a miss: the form explains what it needs, more helpfully each time.

The patterns here are deliberately narrow: they only decide what kind of move a message
is, the NLU model decides which question it is.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Tracker

CANCEL = re.compile(
    r"^\s*(算了|取消|不办了|不弄了|不查了|不申诉了|不用了|停止|退出|结束|不要了|不想弄了)"
)
RESTART = re.compile(r"重新(开始|来|填|选)|重来|从头(开始|来)?|再来一遍")
CORRECTION = re.compile(
    r"(说|填|写|打|输|选)错了?|错了|改一下|改成|改为|更正|修改|换成|^\s*不对|不是这个"
)
SKIP = re.compile(
    r"不知道|不清楚|不记得|忘了|忘记|想不起|说不好|说不准|不确定|没注意|跳过|不想(说|填|留)"
    r"|无所谓|都行|随便|都可以"
)
# "怎么联系客服" asks for the hotline (a question), not for a person in this chat.
HUMAN = re.compile(r"转人工|(找|要|换)(个)?人工|真人|人工服务|人工(来|回复|处理)")
# Shapes of a question in Chinese chat: a question mark or a question word/particle.
QUESTION = re.compile(
    r"[?？]|吗|呢\s*$|么\s*$|怎么|怎样|为什么|为啥|如何|多久|多长时间|几天|多少|哪里|哪儿"
    r"|什么|啥|能不能|可不可以|是不是|有没有|要不要|会不会|需不需要"
)

# Intents that are never an answer to a form question.
CHITCHAT_INTENTS = {"greet", "thank", "goodbye", "bot_challenge"}
# Handled by the forms' own moves or rules, never answered as a question.
CONTROL_INTENTS = {"request_human", "stop_waiting", "handoff_closed"}
TASK_INTENTS = {
    "check_account_status", "report_account_abnormal", "submit_appeal",
    "check_appeal_status", "ask_remote_collection",
}
ANSWER_INTENTS = {"inform", "affirm", "deny", "nlu_fallback"}
# Gibberish typed at a form step lands here too: it needs the shape of a question.
WEAK_INTENTS = {"out_of_scope"}
# A description that is only this long and sure of a request is not a description.
SHORT = 12
# Requests that a short free-text answer can be instead ("帮我查下账户状态"); a report of
# the problem ("就是收不了钱") is what a description is made of.
REQUEST_INTENTS = {"check_account_status", "check_appeal_status", "submit_appeal",
                   "greet", "thank", "goodbye"}
# The model is overconfident: alone, an intent counts only when it is this sure.
SURE = 0.8
# A message shaped like a question needs less.
LIKELY = 0.5


class Move(str, enum.Enum):
    ANSWER = "answer"
    CANCEL = "cancel"
    RESTART = "restart"
    CORRECT = "correct"
    HUMAN = "human"
    SKIP = "skip"
    DIGRESS = "digress"
    MISS = "miss"


@dataclass(frozen=True)
class Said:
    """The latest user message as the form sees it."""

    text: str
    intent: str | None = None
    confidence: float = 0.0
    entities: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, tracker: Tracker) -> Said:
        message = tracker.latest_message or {}
        intent = message.get("intent") or {}
        return cls(
            text=(message.get("text") or "").strip(),
            intent=intent.get("name"),
            confidence=float(intent.get("confidence") or 0.0),
            entities=list(message.get("entities") or []),
        )

    @property
    def is_question(self) -> bool:
        return bool(QUESTION.search(self.text))

    def entity(self, name: str) -> str | None:
        return next((str(e.get("value")) for e in self.entities if e.get("entity") == name),
                    None)


def is_digression(said: Said, free_text: bool = False) -> bool:
    """Another topic, not an answer: a sure non-answer intent, or a likely one asked as a
    question. For a free-text slot (a description) a story about the account naturally
    sounds like a report of it: only a question, or a short sure request, counts."""
    other = said.intent not in ANSWER_INTENTS and said.intent is not None
    asked = said.is_question and said.confidence >= LIKELY
    if not other:
        return said.is_question and not free_text
    if said.intent in WEAK_INTENTS:
        return asked
    if free_text:
        return asked or (said.intent in REQUEST_INTENTS and said.confidence >= SURE
                         and len(said.text) <= SHORT)
    return said.confidence >= SURE or asked


def classify(said: Said, parsed: Any, free_text: bool = False, can_skip: bool = False) -> Move:
    """The kind of move ``said`` is, given what the requested slot's parser made of it
    and whether it is an "I don't know" the slot has a way around."""
    if CANCEL.match(said.text):
        return Move.CANCEL
    if RESTART.search(said.text):
        return Move.RESTART
    if CORRECTION.search(said.text) and not said.is_question:
        return Move.CORRECT
    if HUMAN.search(said.text) or (said.intent == "request_human" and said.confidence >= LIKELY):
        return Move.HUMAN
    if can_skip and free_text and len(said.text) <= SHORT:
        # "真不知道怎么写" parses as a (very short) description; it is not one.
        return Move.SKIP
    if parsed is not None and not (free_text and is_digression(said, free_text=True)):
        return Move.ANSWER
    if can_skip:
        return Move.SKIP
    if is_digression(said, free_text):
        return Move.DIGRESS
    return Move.MISS
