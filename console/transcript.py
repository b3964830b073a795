"""Tracker events → what an agent reads: bot, merchant, agent and system lines, masked.

A "user" event the merchant did not write (Rasa's ``EXTERNAL: handoff_closed``, a bare
``/intent`` payload, a WeChat menu click) is a system line, never a merchant line."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Any

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


def _shown_as(event: dict[str, Any]) -> str | None:
    """What the merchant saw themselves send for a choice: a button's title (widget) or
    the number or title typed (any channel), not the payload it was turned into."""
    metadata = event.get("metadata") or {}
    display = (metadata.get("widget") or {}).get("display")
    typed = ((metadata.get("wechat") or {}).get("choice") or {}).get("typed") \
        or (metadata.get("choice") or {}).get("typed")
    return str(display or typed) if display or typed else None


def closer_at(closers: Closers, timestamp: float) -> str | None:
    """The agent whose close is the latest before ``timestamp``."""
    index = bisect.bisect_right([at for at, _ in closers], timestamp + CLOSE_SLACK_S)
    return closers[index - 1][1] if index else None


def entry(event: dict[str, Any], closers: Closers = ()) -> dict[str, Any] | None:
    """One transcript line for a user or bot event (None for anything else)."""
    kind = event.get("event")
    timestamp = float(event.get("timestamp") or 0)
    metadata = event.get("metadata") or {}
    if kind == "user":
        shown = _shown_as(event)
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
        line: dict[str, Any] = {"key": f"bot:{timestamp}", "text": mask_text(text),
                                "ts": timestamp}
        if metadata.get("agent_message_id") is not None:
            line.update(role="agent", agent=str(metadata.get("agent") or ""),
                        message_id=int(metadata["agent_message_id"]))
        else:
            line.update(role="bot")
        return line
    return None


def transcript(tracker: dict[str, Any], closers: Closers = ()) -> list[dict[str, Any]]:
    lines = (entry(e, closers) for e in tracker.get("events") or [])
    return [line for line in lines if line is not None]


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
