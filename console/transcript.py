"""Tracker events → what an agent reads: bot, merchant and agent lines, masked."""

from __future__ import annotations

import re
from typing import Any

from core.privacy import mask_merchant_id, mask_personal_data

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


def _merchant_text(event: dict[str, Any]) -> str:
    """What the merchant saw themselves send: a button's title (widget) or the number or
    title typed for a choice (any channel), not the payload it was turned into."""
    text = event.get("text") or ""
    metadata = event.get("metadata") or {}
    display = (metadata.get("widget") or {}).get("display")
    typed = ((metadata.get("wechat") or {}).get("choice") or {}).get("typed") \
        or (metadata.get("choice") or {}).get("typed")
    if display or typed:
        return str(display or typed)
    if text.startswith("/"):
        return "（点了一个按钮）"
    return text or "（非文字消息）"


def entry(event: dict[str, Any]) -> dict[str, Any] | None:
    """One transcript line for a user or bot event (None for anything else)."""
    kind = event.get("event")
    timestamp = float(event.get("timestamp") or 0)
    metadata = event.get("metadata") or {}
    if kind == "user":
        return {"key": f"user:{timestamp}", "role": "merchant",
                "text": mask_text(_merchant_text(event)),
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


def transcript(tracker: dict[str, Any]) -> list[dict[str, Any]]:
    lines = (entry(e) for e in tracker.get("events") or [])
    return [line for line in lines if line is not None]


def last_user_time(tracker: dict[str, Any]) -> float | None:
    for event in reversed(tracker.get("events") or []):
        if event.get("event") == "user":
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
