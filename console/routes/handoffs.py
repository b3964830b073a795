"""Conversations handed to a person (``/console/api/queue``,
``/console/api/handoffs/{id}``): the queue, one conversation with its transcript and
account panel, claiming, internal notes, transferring and closing.

A route that also calls rasa (a notice to the merchant, the transcript, the bot taking
over again) ends its transaction first: the merchant never hears of a change that was
rolled back, and no database lock is held while rasa answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, constr
from sqlalchemy.orm import Session

from console import history, labels, service, views
from console.delivery import JOINED_NOTICE, LEFT_NOTICE, TRANSFERRED_NOTICE
from console.deps import CONSOLE, DB, SIGNED_IN, Console, Principal
from console.errors import INVALID, REFUSED, SIGNED_IN_ERRORS
from console.rasa_client import RasaError
from console.transcript import mask_text
from core.db.models import Agent, Handoff, utcnow

router = APIRouter(prefix="/console/api", dependencies=[SIGNED_IN], responses=SIGNED_IN_ERRORS)


class NoteBody(BaseModel):
    text: constr(strip_whitespace=True, min_length=1, max_length=2000)  # type: ignore[valid-type]


class TransferBody(BaseModel):
    agent_id: int


class CloseBody(BaseModel):
    resolution: constr(strip_whitespace=True, min_length=1, max_length=500)  # type: ignore[valid-type]
    # The 会话小结 label (GET /console/api/labels), by id or by name: one is required
    # (checked after who may close, so a stranger still gets 404 and a colleague 409).
    label_id: int | None = Field(None, ge=1, le=2**31 - 1,
                                 description="会话小结标签编号（与 label 二选一，必填）")
    label: str | None = Field(None, max_length=40, description="或标签名称，如 申诉进度")


@router.get("/queue", summary="Waiting conversations, tickets, mine, agents online")
def queue(me: Principal = SIGNED_IN, session: Session = DB,
          console: Console = CONSOLE) -> dict[str, Any]:
    snapshot = service.queue_snapshot(session, me.agent_id,
                                      supervisor=history.reader(session, me.agent_id).supervisor)
    return {**snapshot, "service_hours": console.hours_view(),
            "server_time": service.epoch(utcnow())}


@router.get("/handoffs/{handoff_id}", summary="One conversation: transcript, account, notes")
def conversation(handoff_id: int, me: Principal = SIGNED_IN, session: Session = DB,
                 console: Console = CONSOLE) -> dict[str, Any]:
    """A queued handoff for every agent (a preview of what they may claim); one an agent
    holds for that agent and supervisors; an ended one as ``console.history`` allows
    (anyone else: 404, as for an id that does not exist)."""
    with session.begin():
        who = history.reader(session, me.agent_id)
        handoff = history.readable(session, who, session.get(Handoff, handoff_id))
        view = views.conversation(console, session, who, handoff)
    return views.with_transcript(console, view)


@router.post("/handoffs/{handoff_id}/claim", summary="Claim a waiting conversation or ticket",
             responses=REFUSED)
def claim(handoff_id: int, me: Principal = SIGNED_IN, session: Session = DB,
          console: Console = CONSOLE) -> dict[str, Any]:
    with session.begin():
        # A refusal names the state only (cancelled, closed, whose), never the content.
        service.claim(session, handoff_id, me.agent_id)
    notice_error = console.delivery.notify(
        handoff_id, JOINED_NOTICE.format(agent=me.name), "claimed", me.name)
    return {"handoff_id": handoff_id, "notice_error": notice_error}


@router.post("/handoffs/{handoff_id}/notes", summary="Add an internal note (never sent)")
def add_note(handoff_id: int, body: NoteBody, me: Principal = SIGNED_IN,
             session: Session = DB) -> dict[str, Any]:
    with session.begin():
        history.check_visible(session, me.agent_id, handoff_id)
        note = service.add_note(session, handoff_id, me.agent_id, body.text)
        return {"id": note.id, "text": mask_text(note.text), "agent": me.name,
                "created_at": service.epoch(note.created_at)}


@router.post("/handoffs/{handoff_id}/transfer", summary="Hand over to another online agent",
             responses=REFUSED)
def transfer(handoff_id: int, body: TransferBody, me: Principal = SIGNED_IN,
             session: Session = DB, console: Console = CONSOLE) -> dict[str, Any]:
    with session.begin():
        history.check_visible(session, me.agent_id, handoff_id)
        handoff = service.transfer(session, handoff_id, me.agent_id, body.agent_id)
        target = session.get(Agent, handoff.agent_id).display_name
    notice_error = console.delivery.notify(
        handoff_id, TRANSFERRED_NOTICE.format(agent=target), "transferred", target)
    return {"handoff_id": handoff_id, "agent": target, "notice_error": notice_error}


@router.post("/handoffs/{handoff_id}/close", summary="Close with a label: the bot takes over again",
             responses={**REFUSED, **INVALID})
def close(handoff_id: int, body: CloseBody, me: Principal = SIGNED_IN, session: Session = DB,
          console: Console = CONSOLE) -> dict[str, Any]:
    with session.begin():
        history.check_visible(session, me.agent_id, handoff_id)
        service.held_by(session, handoff_id, me.agent_id)
        label = labels.chosen(session, body.label_id, body.label)
        handoff = service.close(session, handoff_id, me.agent_id, body.resolution, label.id)
        sender_id, channel, label_name = handoff.sender_id, handoff.channel, label.name
        closed_at = service.epoch(handoff.closed_at)
    # Said once, before the bot takes over: its score question (with the buttons a
    # typed "5" picks) stays the conversation's latest turn. Stamped with the close's
    # time: the ended handoff's transcript (cut at closed_at, console.history) keeps it.
    notice_error = console.delivery.notify(
        handoff_id, LEFT_NOTICE.format(agent=me.name), "closed", me.name, closed_at)
    warning = None
    try:
        console.rasa.trigger_intent(sender_id, channel, "handoff_closed")
    except RasaError as error:
        if error.status == 404:  # the merchant side's handoff flow is not deployed
            warning = ("会话已结束，但对话服务还不认识 handoff_closed，"
                       "机器人没能接回对话并邀请评分")
        else:
            warning = f"会话已结束，但机器人没能接回对话：{error.message}"
    return {"handoff_id": handoff_id, "status": "closed", "label": label_name,
            "warning": warning, "notice_error": notice_error}
