"""Typed choices: a number or a button title typed instead of clicked picks the button.

The buttons of the last bot turn are in the conversation itself (the ``BotUttered``
events after the latest user message, ``data.buttons``), so one mechanism serves REST,
the widget and WeChat alike, across replicas, inside the conversation lock. Before the
NLU reads a message, ``resolve`` matches it against those buttons with
``core.choices.match``: "1", "１", "第二个", "帮我挑一个" (the title of "1 帮我挑一个"),
a small typo. A match is handled exactly like a click: the message becomes the button's
payload (``/affirm``, ``/knowledge{"kb_entry":"fee_rate"}``, ``2``), and what the merchant
typed stays in the message's metadata (``choice``; for WeChat also ``wechat.choice``,
for the widget ``widget.display``, which the console and the widget history show).

How the merchant saw the numbers depends on the channel: WeChat numbers every button
of a turn 1, 2, 3… (``addons.channels.wechat_render``), REST and the widget show the
titles, which carry their own numbers ("2 不用了").

A number typed with more ("1 不过你还没说为啥给我限制了"): the number picks its button
now, and the rest is handled right after as a message of its own, in the same lock
(``rasa_compat.then_handle``), so a form the choice starts answers it as a digression.

A bare number with nothing to choose from, outside a form ("1" after a recommendation)
is not a merchant id: it never starts the identity check. If a paused form's last
question offered that number, the form resumes (and asks it again); otherwise the
message counts as not understood (``nlu_fallback``, the staged fallback). Inside a form
nothing changes but the choices themselves: a number the form's question did not offer
is the form's to read ("2万" at the volume step, the merchant id, the last 4 digits).

Installed by ``addons/__init__.py`` (the rasa server imports the package to load the
pipeline). The one Rasa internal touched is
``MessageProcessor._handle_message_with_tracker(message, tracker)``: it is where the
message and its conversation meet before the NLU parses it (``handle_message`` ->
``log_message`` -> here -> ``parse_message``), the only place where the tracker the turn
works on, fetched inside the lock, is at hand. The wrapping lives in addons/rasa_compat.py
(``hook_before_nlu``), which refuses to start when that method, its caller or its
signature changed.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import (
    ActiveLoop,
    BotUttered,
    Restarted,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from addons import rasa_compat
from core.choices import (
    Choice,
    is_bare_number,
    match,
    message_buttons,
    offered,
    parse_choice_number,
    split_choice,
)
from core.system_lines import from_the_desk

logger = logging.getLogger(__name__)

# Channels whose merchants see every button of a turn numbered 1, 2, 3… across messages.
NUMBERED_ACROSS = frozenset({"wechat"})
# Set by the forms (actions/forms.py PAUSED_FORM); "好" / "继续" (affirm) resumes it.
PAUSED_FORM = "paused_form"
RESUME_PAYLOAD = "/affirm"
FALLBACK_INTENT = "nlu_fallback"
# How many merchant messages back a paused form's last question may be.
PAUSED_LOOKBACK = 3

Handler = Callable[[MessageProcessor, UserMessage, DialogueStateTracker], Awaitable[None]]


def _bot_message(event: BotUttered) -> dict[str, Any]:
    return {"text": event.text, **(event.data or {})}


def last_turn(tracker: DialogueStateTracker) -> list[dict[str, Any]]:
    """The bot messages since the merchant's latest message (empty when a person has
    written since: the agent's words, not the bot's old buttons, are what was said)."""
    messages: list[dict[str, Any]] = []
    for event in reversed(tracker.events):
        if isinstance(event, (UserUttered, SessionStarted, Restarted)):
            break
        if isinstance(event, BotUttered):
            if from_the_desk(event.metadata):
                return []
            messages.append(_bot_message(event))
    return messages[::-1]


def _is_form_question(event: BotUttered) -> bool:
    name = str((event.metadata or {}).get("utter_action") or "")
    return name.startswith(("utter_ask_", "utter_remind_"))


def paused_question(tracker: DialogueStateTracker, form: str,
                    numbered_across: bool) -> list[Choice]:
    """The choices of the last question the paused ``form`` asked, if it was recent."""
    asked: BotUttered | None = None
    users = 0
    for event in reversed(tracker.events):
        if isinstance(event, (SessionStarted, Restarted)):
            return []
        if asked is None:
            if isinstance(event, UserUttered):
                users += 1
                if users > PAUSED_LOOKBACK:
                    return []
            elif isinstance(event, BotUttered) and _is_form_question(event) \
                    and message_buttons(event.data or {}):
                asked = event
        elif isinstance(event, ActiveLoop):
            # The form that was active when the question was asked.
            if event.name != form:
                return []
            return offered([_bot_message(asked)], numbered_across)
    return []


def _typed(message: UserMessage, payload: str, info: dict[str, Any]) -> UserMessage:
    """The message as the click would have sent it; the typed text in the metadata."""
    metadata = copy.deepcopy(message.metadata) if isinstance(message.metadata, dict) else {}
    metadata["choice"] = info
    number = info.get("number")
    if isinstance(metadata.get("wechat"), dict):
        metadata["wechat"]["choice"] = {"number": number, "typed": info["typed"]}
    if isinstance(metadata.get("widget"), dict) and not metadata["widget"].get("display"):
        metadata["widget"]["display"] = info["typed"]
    return UserMessage(payload, message.output_channel, message.sender_id,
                       input_channel=message.input_channel, message_id=message.message_id,
                       metadata=metadata)


def _rest_of(message: UserMessage, rest: str) -> UserMessage:
    """What the merchant typed after the choice, as a message of its own."""
    metadata = copy.deepcopy(message.metadata) if isinstance(message.metadata, dict) else {}
    metadata["after_choice"] = True
    if isinstance(metadata.get("widget"), dict):
        metadata["widget"]["display"] = rest
    message_id = f"{message.message_id}-rest" if message.message_id else None
    return UserMessage(rest, message.output_channel, message.sender_id,
                       input_channel=message.input_channel, message_id=message_id,
                       metadata=metadata)


async def _not_understood(processor: MessageProcessor, message: UserMessage,
                          tracker: DialogueStateTracker) -> UserMessage:
    """A stray number: parsed as usual, then read as not understood (no look-up)."""
    parse_data = await processor.parse_message(message, tracker)
    intent = parse_data.get("intent") or {}
    first = {"name": FALLBACK_INTENT, "confidence": float(intent.get("confidence") or 0.0)}
    # A number has no topic: nothing for the fallback to offer as "did you mean" (the
    # model's ranking of "2" is noise), nor from the knowledge base.
    parse_data = {**parse_data, "intent": first, "intent_ranking": [first],
                  "typed_choice": {"outcome": "nothing_to_choose"}}
    parse_data.pop("knowledge", None)
    stray = copy.copy(message)
    stray.parse_data = parse_data
    return stray


async def resolve(processor: MessageProcessor, message: UserMessage,
                  tracker: DialogueStateTracker) -> UserMessage:
    """The message to handle: ``message`` itself, or what the choice it types sends."""
    text = message.text
    if message.parse_data or not isinstance(text, str) or not text or text.startswith("/"):
        return message
    across = message.input_channel in NUMBERED_ACROSS
    choices = offered(last_turn(tracker), across)
    picked = match(text, choices, clicks=not across)
    split = split_choice(text, choices) if picked is None else None
    if split is not None and rasa_compat.then_handle(_rest_of(message, split[2])):
        # "1 不过你还没说为啥": the choice now, the rest as the next message.
        chosen, typed, _ = split
        return _typed(message, chosen.choice.payload, {
            "typed": typed, "number": chosen.choice.number, "payload": chosen.choice.payload,
            "how": "number+more"})
    if picked is not None:
        if picked.choice.payload == text:
            return message  # a click, or the payload typed: as it is
        logger.debug("typed choice %r -> button %d (%s)", text, picked.choice.number,
                     picked.how)
        return _typed(message, picked.choice.payload, {
            "typed": text, "number": picked.choice.number, "payload": picked.choice.payload,
            "how": picked.how})
    if tracker.active_loop_name or not is_bare_number(text):
        return message
    number = parse_choice_number(text)
    form = tracker.get_slot(PAUSED_FORM)
    if form and number and number <= len(paused_question(tracker, str(form), across)):
        # The paused form's question offered this number: the form goes on from there.
        return _typed(message, RESUME_PAYLOAD, {"typed": text, "number": number,
                                                "payload": RESUME_PAYLOAD, "resumes": form})
    return await _not_understood(processor, message, tracker)


def install() -> None:
    """Routes every user message through ``resolve`` before the NLU; refuses to start
    when the Rasa internal it wraps changed (typed choices would silently stop; see
    addons/rasa_compat.py)."""
    rasa_compat.hook_before_nlu("typed_choices", resolve)
