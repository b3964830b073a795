"""Tracker events → what an agent reads: bot, merchant, agent and system lines, masked.

A "user" event the merchant did not write (Rasa's ``EXTERNAL: handoff_closed``, a bare
``/intent`` payload, a WeChat menu click) is a system line, never a merchant line; a
choice is shown as the merchant clicked or typed it only when the bot offered it."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Any

from core.choices import is_bare_number, match
from core.choices import offered as offered_choices
from core.privacy import mask_merchant_id, mask_personal_data
from core.system_lines import external_intent, system_line

# (closed_at, agent name) of a conversation's handoffs, oldest first: who closed when.
Closers = Sequence[tuple[float, str]]
# The close is committed before rasa is told: its event comes a moment later.
CLOSE_SLACK_S = 5.0

# A 10-digit merchant id typed by the merchant (the bot's own answers mask it already).
MERCHANT_ID = re.compile(r"(?<!\d)(19\d{8})(?!\d)")


def mask_text(text: str) -> str:
    """Personal data (ID cards, bank cards, phones) and merchant ids masked."""
    return MERCHANT_ID.sub(lambda m: mask_merchant_id(m.group(1)),
                           mask_personal_data(text))


def _bot_text(event: dict[str, Any]) -> str:
    text = event.get("text") or ""
    buttons = (event.get("data") or {}).get("buttons") or []
    titles = [str(b.get("title", "")) for b in buttons if isinstance(b, dict)]
    if titles:
        text = f"{text}\n" + "  ".join(f"[{t}]" for t in titles if t)
    return text.strip()


def bot_message(event: dict[str, Any]) -> dict[str, Any]:
    """A bot event as ``core.choices.offered`` reads a message (its text and buttons)."""
    return {"text": event.get("text"), **(event.get("data") or {})}


def _shown_as(event: dict[str, Any], offered: Sequence[dict[str, Any]]) -> str | None:
    """What the merchant saw themselves send for a choice: a button's title (widget) or
    the number or title typed (any channel), not the payload it was turned into.

    Only when it is true: the text must pick, among the buttons of ``offered`` (the bot
    events since the merchant's previous message), the payload the bot processed; or be
    a bare number standing for a payload. Whatever else a client put in the metadata
    (the widget's ``display``, a REST ``choice``) is not shown: the processed text is."""
    metadata = event.get("metadata") or {}
    display = (metadata.get("widget") or {}).get("display")
    typed = ((metadata.get("wechat") or {}).get("choice") or {}).get("typed") \
        or (metadata.get("choice") or {}).get("typed")
    shown = str(display or typed or "").strip()
    if not shown:
        return None
    processed = str(event.get("text") or "")
    if is_bare_number(shown) and (processed.startswith("/") or is_bare_number(processed)):
        return shown  # a number picks a button; it says nothing else
    choices = offered_choices([bot_message(e) for e in offered],
                              numbered_across=event.get("input_channel") == "wechat")
    picked = match(shown, choices)
    return shown if picked is not None and picked.choice.payload == processed else None


def closer_at(closers: Closers, timestamp: float) -> str | None:
    """The agent whose close is the latest before ``timestamp``."""
    index = bisect.bisect_right([at for at, _ in closers], timestamp + CLOSE_SLACK_S)
    return closers[index - 1][1] if index else None


def entry(event: dict[str, Any], closers: Closers = (),
          offered: Sequence[dict[str, Any]] = ()) -> dict[str, Any] | None:
    """One transcript line for a user or bot event (None for anything else);
    ``offered``: the bot events since the merchant's previous message."""
    kind = event.get("event")
    timestamp = float(event.get("timestamp") or 0)
    metadata = event.get("metadata") or {}
    if kind == "user":
        shown = _shown_as(event, offered)
        system = None if shown else system_line(event, closer_at(closers, timestamp))
        if system is not None:
            return {"key": f"system:{timestamp}", "role": "system", "text": system,
                    "ts": timestamp}
        return {"key": f"user:{timestamp}", "role": "merchant",
                "text": mask_text(shown or event.get("text") or "（非文字消息）"),
                "ts": timestamp, "channel": event.get("input_channel")}
    if kind == "bot":
        text = _bot_text(event)
        if not text:
            return None
        if metadata.get("handoff_notice"):
            # The console's own notice (an agent joined, was replaced, left): what the
            # merchant was told, shown as the system line it is, not as the bot speaking.
            return {"key": f"system:{timestamp}", "role": "system", "text": mask_text(text),
                    "ts": timestamp, "notice": str(metadata["handoff_notice"])}
        line: dict[str, Any] = {"key": f"bot:{timestamp}", "text": mask_text(text),
                                "ts": timestamp}
        if metadata.get("agent_message_id") is not None:
            line.update(role="agent", agent=str(metadata.get("agent") or ""),
                        message_id=int(metadata["agent_message_id"]))
        else:
            line.update(role="bot")
        return line
    return None


def _is_close(event: dict[str, Any]) -> bool:
    return event.get("event") == "user" and \
        external_intent(str(event.get("text") or "")) == "handoff_closed"


def transcript(tracker: dict[str, Any], closers: Closers = ()) -> list[dict[str, Any]]:
    """Every line of a conversation; a close is said once (the leave notice, or the
    system line for Rasa's close event when no notice was sent)."""
    lines: list[dict[str, Any]] = []
    since_user: list[dict[str, Any]] = []
    left_said = False  # a leave notice since the last join
    for event in tracker.get("events") or []:
        line = entry(event, closers, since_user)
        since_user = follow_turn(since_user, event)
        if line is None:
            continue
        if _is_close(event):
            if left_said:
                continue
            left_said = True
        elif line.get("notice") == "closed":
            left_said = True
        elif line.get("notice") or line["role"] == "agent":
            left_said = False
        lines.append(line)
    return lines


def follow_turn(since_user: list[dict[str, Any]], event: dict[str, Any],
                keep: int = 20) -> list[dict[str, Any]]:
    """The bot events since the merchant's latest message, after ``event``."""
    kind = event.get("event")
    if kind == "user" or kind in ("session_started", "restart"):
        return []
    if kind == "bot":
        return [*since_user, event][-keep:]
    return since_user


def last_user_time(tracker: dict[str, Any]) -> float | None:
    """When the merchant last wrote (or clicked): rasa's own external events do not count
    (WeChat's 48-hour window is opened by the merchant only)."""
    for event in reversed(tracker.get("events") or []):
        if event.get("event") == "user" and external_intent(str(event.get("text") or "")) is None:
            return float(event.get("timestamp") or 0) or None
    return None


def has_agent_message(tracker: dict[str, Any], message_id: int) -> bool:
    """Whether the bot event of agent message ``message_id`` is stored in the tracker
    (Rasa stores it only after the output channel delivered it without an error)."""
    for event in tracker.get("events") or []:
        if event.get("event") == "bot":
            metadata = event.get("metadata") or {}
            if str(metadata.get("agent_message_id")) == str(message_id):
                return True
    return False
