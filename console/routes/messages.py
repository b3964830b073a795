"""The agent's replies to the merchant (``/console/api/handoffs/{id}/messages``,
``/console/api/messages/{id}/retry``): recorded, then delivered through the merchant's
own channel by console.delivery, which owns those transactions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, constr
from sqlalchemy import select
from sqlalchemy.orm import Session

from console import canned, history, service
from console.delivery import MAX_CHARS, NO_MESSAGE
from console.deps import CONSOLE, DB, SIGNED_IN, Console, Principal
from console.errors import INVALID, REFUSED, SIGNED_IN_ERRORS, Refused
from core.db.models import Agent, AgentMessage

router = APIRouter(prefix="/console/api", dependencies=[SIGNED_IN], responses=SIGNED_IN_ERRORS)


class MessageBody(BaseModel):
    text: constr(strip_whitespace=True, min_length=1, max_length=MAX_CHARS)  # type: ignore[valid-type]


def _message(session: Session, message_id: int) -> dict[str, Any]:
    names = dict(session.execute(select(Agent.id, Agent.display_name)).all())
    return service.message_view(session.get(AgentMessage, message_id), names)


@router.post("/handoffs/{handoff_id}/messages", summary="Reply to the merchant",
             responses={**REFUSED, **INVALID})
def send_message(handoff_id: int, body: MessageBody, me: Principal = SIGNED_IN,
                 session: Session = DB, console: Console = CONSOLE) -> dict[str, Any]:
    with session.begin():  # someone else's conversation: as if it did not exist
        history.check_visible(session, me.agent_id, handoff_id)
    left = canned.unfilled(body.text)
    if left:  # a canned reply's variable or 【待填：…】 mark never reaches a merchant
        message = f"回复里还有没填的内容：{'、'.join(left)}，请改成实际内容或删掉后再发送"
        raise Refused(message, 422, problems=[message])
    message_id = console.delivery.send(handoff_id, me.agent_id, body.text)
    return _message(session, message_id)


@router.post("/messages/{message_id}/retry", summary="Send a failed reply again",
             responses=REFUSED)
def retry(message_id: int, me: Principal = SIGNED_IN, session: Session = DB,
          console: Console = CONSOLE) -> dict[str, Any]:
    with session.begin():
        message = session.get(AgentMessage, message_id)
        try:
            history.check_visible(session, me.agent_id, message.handoff_id if message else 0)
        except Refused:
            raise Refused(NO_MESSAGE, status=404) from None
    console.delivery.retry(message_id, me.agent_id)
    return _message(session, message_id)
