"""Which stored "user" events the merchant did not write, and the system line shown
instead (console transcripts, the widget's history, exports).

Rasa stores more than typed messages as user events: ``trigger_intent`` (the console
closing a handoff) stores ``EXTERNAL: handoff_closed``; a WeChat menu click or follow
arrives as a ``/intent`` payload. None of them is a merchant's line. Plain dicts (the
tracker's JSON) only: no Rasa import, so the console, the add-ons and scripts share it.
"""

from __future__ import annotations

from typing import Any

# Rasa 3.6: rasa.shared.constants.EXTERNAL_MESSAGE_PREFIX.
EXTERNAL_PREFIX = "EXTERNAL: "

# What an external intent means to a reader of the conversation.
EXTERNAL_LINES = {
    "handoff_closed": "客服结束了会话",
}
CLOSED_BY = "客服{agent}结束了会话"
MENU_LINE = "商户点了菜单：{label}"
INTENT_LABELS = {
    "check_account_status": "查账户状态",
    "contact_support": "联系客服",
    "ask_appeal_process": "怎么申诉",
    "ask_remote_collection": "异地收款",
    "check_appeal_status": "查申诉进度",
    "request_human": "转人工",
}


def external_intent(text: str) -> str | None:
    """``handoff_closed`` for ``EXTERNAL: handoff_closed``, else None."""
    if text.startswith(EXTERNAL_PREFIX):
        return text[len(EXTERNAL_PREFIX):].strip() or "unknown"
    return None


def _payload_intent(text: str) -> str:
    return text[1:].split("{", 1)[0].split("@", 1)[0].strip()


def system_line(event: dict[str, Any], agent: str | None = None) -> str | None:
    """The system line for a user event the merchant did not type, else None.

    ``event``: a tracker user event as JSON, after any display text was considered (a
    widget button's title or a typed choice is the merchant's own line). ``agent``:
    the name of the agent who closed, when the caller knows it."""
    text = str(event.get("text") or "")
    intent = external_intent(text)
    if intent is not None:
        if intent == "handoff_closed" and agent:
            return CLOSED_BY.format(agent=agent)
        return EXTERNAL_LINES.get(intent, f"系统操作：{intent}")
    if text.startswith("/"):
        name = _payload_intent(text)
        wechat = (event.get("metadata") or {}).get("wechat") or {}
        if wechat.get("msg_type") == "event":
            if name == "greet":
                return "商户关注了公众号"
            label = INTENT_LABELS.get(name)
            return MENU_LINE.format(label=label) if label else "商户点了公众号菜单"
        label = INTENT_LABELS.get(name)
        return f"商户点了按钮：{label}" if label else "商户点了一个按钮"
    return None


def from_the_desk(metadata: dict[str, Any] | None) -> bool:
    """Whether a bot event was appended by the agent console (console/delivery.py): an
    agent's reply or a notice such as "客服小王已接入". Not part of the bot's own turn:
    its buttons and the entries it said are no longer current after one."""
    metadata = metadata or {}
    return metadata.get("agent_message_id") is not None or bool(metadata.get("agent")) \
        or bool(metadata.get("handoff_notice"))
