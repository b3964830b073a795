"""What the conversation was just about, handed to the NLU with each message.

Rasa's NLU components see one message and no tracker, so a follow-up such as "那要多久"
after the answer about frozen funds reaches the knowledge matcher without its topic and is
matched as if it opened the conversation (the appeal's review time, or "没看懂"). This
hook, run before the NLU with the turn's tracker (``rasa_compat.hook_before_nlu``), adds
the knowledge entries the bot's last turn said, and those said earlier in the session, to
the message's metadata (``topic``), and who is speaking when an earlier message said so
(``speaker``: a customer paying a shop stays one for "那我的钱呢"); the matcher reads them
(addons/nlu/knowledge_matcher.py). Only entry ids and the role travel: the merchant's words
stay where they were.
"""

from __future__ import annotations

import copy

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import BotUttered, Restarted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons import rasa_compat
from core.system_lines import from_the_desk
from core.voice import payer_in

TOPIC_KEY = "topic"
# "payer" when a customer paying a shop is speaking in this session (core.voice.payer_in).
SPEAKER_KEY = "speaker"
# Set by the action server on a bot message that says a knowledge entry (actions/knowledge.py).
ENTRY_KEY = "knowledge_entry"
# How many entries said earlier in the session are remembered (most recent kept).
ANSWERED_MAX = 12


def _entry(event: BotUttered) -> str | None:
    entry = (event.metadata or {}).get(ENTRY_KEY)
    return str(entry) if entry else None


def topic_of(tracker: DialogueStateTracker) -> dict[str, list[str]] | None:
    """``{"last": entries of the bot's last turn, "answered": entries of the session}``,
    oldest first; None when the session said no entry yet. The last turn counts only
    when the bot spoke last: after a person's reply the topic is theirs, not an entry's."""
    last: list[str] = []
    answered: list[str] = []
    in_last_turn = True
    for event in reversed(tracker.events):
        if isinstance(event, (SessionStarted, Restarted)):
            break
        if isinstance(event, UserUttered):
            in_last_turn = False
            continue
        if not isinstance(event, BotUttered):
            continue
        if in_last_turn and from_the_desk(event.metadata):
            in_last_turn = False
            last = []
        entry = _entry(event)
        if entry is None:
            continue
        if in_last_turn and entry not in last:
            last.append(entry)
        if entry not in answered:
            answered.append(entry)
    if not answered:
        return None
    return {"last": last[::-1], "answered": answered[:ANSWERED_MAX][::-1]}


def session_texts(tracker: DialogueStateTracker) -> list[str]:
    """The user messages of the session, oldest first."""
    texts: list[str] = []
    for event in reversed(tracker.events):
        if isinstance(event, (SessionStarted, Restarted)):
            break
        if isinstance(event, UserUttered) and isinstance(event.text, str):
            texts.append(event.text)
    return texts[::-1]


async def add_topic(processor: MessageProcessor, message: UserMessage,
                    tracker: DialogueStateTracker) -> UserMessage:
    """The message with the conversation's topic in its metadata (a copy: the caller's
    message is left as it came)."""
    if message.parse_data or not isinstance(message.text, str):
        return message
    topic = topic_of(tracker)
    payer = payer_in(session_texts(tracker))
    if topic is None and not payer:
        return message
    metadata = copy.deepcopy(message.metadata) if isinstance(message.metadata, dict) else {}
    if topic is not None:
        metadata[TOPIC_KEY] = topic
    if payer:
        metadata[SPEAKER_KEY] = "payer"
    return UserMessage(message.text, message.output_channel, message.sender_id,
                       input_channel=message.input_channel, message_id=message.message_id,
                       metadata=metadata)


def install() -> None:
    """Routes every user message through ``add_topic`` before the NLU (see
    addons/rasa_compat.py for the internal it relies on)."""
    rasa_compat.hook_before_nlu("topic_context", add_topic)
