"""The signed-in agent (``/console/api/me``): who, the CSRF token, the working hours,
and presence (online or away)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.orm import Session

from console import service
from console.delivery import MAX_CHARS
from console.deps import CONSOLE, DB, SIGNED_IN, Console, Principal
from console.errors import SIGNED_IN_ERRORS
from core.db.models import Agent, AgentPresence, utcnow

router = APIRouter(prefix="/console/api", dependencies=[SIGNED_IN], responses=SIGNED_IN_ERRORS)


class PresenceBody(BaseModel):
    presence: Literal["online", "away"]


@router.get("/me", summary="The signed-in agent, the CSRF token and the working hours")
def me_view(me: Principal = SIGNED_IN, session: Session = DB,
            console: Console = CONSOLE) -> dict[str, Any]:
    agent = session.get(Agent, me.agent_id)
    return {"agent": service.agent_summary(session, agent),
            "csrf_token": me.csrf_token, "service_hours": console.hours_view(),
            "max_chars": MAX_CHARS}


@router.put("/me/presence", summary="Set presence: online or away")
def set_presence(body: PresenceBody, me: Principal = SIGNED_IN,
                 session: Session = DB) -> dict[str, Any]:
    with session.begin():
        agent = session.get(Agent, me.agent_id)
        agent.presence = AgentPresence(body.presence)
        agent.last_seen_at = utcnow()
        return {"agent": service.agent_summary(session, agent)}
