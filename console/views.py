"""One conversation as the console shows it: the database view plus the transcript
read from rasa (outside any transaction: no lock is held while rasa answers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from console import history, labels, materials, notice_panel, service
from console.delivery import NO_PUSH_CHANNELS
from console.deps import Console
from console.rasa_client import RasaError
from console.transcript import transcript
from core.db.models import Handoff


def conversation(console: Console, session: Session, who: history.Reader,
                 handoff: Handoff) -> dict[str, Any]:
    """Everything but the transcript, within the caller's transaction; ``_rasa`` holds
    what ``with_transcript`` needs."""
    view = service.conversation(session, handoff.id, viewer=who.agent_id)
    view["earlier"] = history.earlier(session, who, handoff)
    # The 申诉材料 panel: clean files only, the others as counts (console.materials).
    view["materials"] = materials.panel(session, handoff)
    ended = not handoff.status.is_open
    if ended:
        view["history"] = history.item(handoff, service.agent_names(session),
                                       labels.names(session))
    view["_rasa"] = {
        "sender_id": handoff.sender_id, "channel": handoff.channel,
        "closers": service.closers(session, handoff.channel, handoff.sender_id),
        "window": history.window(session, handoff) if ended else None,
        # The merchant's 暗号 never reaches an agent (console.notice_panel).
        "phrases": notice_panel.phrases_of(session, handoff),
    }
    return view


def with_transcript(console: Console, view: dict[str, Any]) -> dict[str, Any]:
    """Adds the transcript (only the ended handoff's own part, when it has ended)."""
    target = view.pop("_rasa")
    channel = target["channel"]
    try:
        tracker = console.rasa.tracker(target["sender_id"])
        events = tracker.get("events") or []
        if target["window"] is not None:
            events = history.events_within(events, *target["window"])
        view["transcript"] = notice_panel.hide_lines(
            transcript({"events": events}, target["closers"]), target["phrases"])
        view["window"] = console.delivery.window(channel, tracker)
        view["transcript_error"] = None
    except RasaError as error:
        view["transcript"] = []
        view["window"] = {"applies": channel == "wechat", "open": True}
        view["transcript_error"] = f"读取对话记录失败：{error.message}"
    view["can_push"] = channel not in NO_PUSH_CHANNELS
    return view
