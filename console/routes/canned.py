"""Canned replies (``/console/api/canned``) the team manages (console.canned): every
agent lists the active ones and fills one for the conversation they hold; supervisors
also see the disabled ones, create, edit, disable and enable (403 for agents), and
every change is recorded (``GET /console/api/team/changes``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from console import canned, history, service, team
from console.deps import DB, SIGNED_IN, SUPERVISOR, Principal
from console.errors import INVALID, REFUSED, SIGNED_IN_ERRORS, SUPERVISOR_ONLY, Refused

router = APIRouter(prefix="/console/api", tags=["canned replies"], dependencies=[SIGNED_IN],
                   responses=SIGNED_IN_ERRORS)
NOT_FOUND = {404: {"description": "没有这条常用回复（或这个会话）"}}
ID = 2**31 - 1
REPLY_ID = Path(..., ge=1, le=ID)
HANDOFF_ID = Path(..., ge=1, le=ID)
DISABLED = Query(False, description="也列出停用的（主管）")


class CannedBody(BaseModel):
    """Checked by console.canned (each problem said in Chinese, 422), not here: a
    missing or too long field gets the same clear answer as a wrong one."""

    title: str | None = Field(None, description="标题（最多40字）")
    shortcut: str | None = Field(None, description="快捷码，如 /95017")
    text: str | None = Field(None, description="客服口吻的回复，可用 {商户号} {申诉单号} {客服}")
    version: int | None = Field(None, ge=1, le=ID, description="修改时：读到的版本（防止覆盖别人的修改）")
    position: int | None = Field(None, ge=0, le=10000, description="排序（小的在前）")


def editor(me: Principal) -> team.Editor:
    return team.Editor(me.agent_id, me.username)


def _names(session: Session) -> dict[int, str]:
    return service.agent_names(session)


@router.get("/canned", summary="Canned replies (supervisors: include_disabled for all)",
            responses=SUPERVISOR_ONLY)
def list_canned(include_disabled: bool = DISABLED, me: Principal = SIGNED_IN, session: Session = DB) -> dict[str, Any]:
    if include_disabled and not me.supervisor:
        raise Refused("停用的常用回复只有主管能看", 403)
    with session.begin():  # the first list of a new database seeds today's FAQ replies
        items = canned.listing(session, include_disabled)
    return {"items": items, "variables": [{"name": name, "description": description}
                                          for name, description in canned.VARIABLES.items()],
            "max_chars": canned.TEXT_MAX, "can_edit": me.supervisor}


@router.post("/canned", status_code=201, summary="Create a canned reply (supervisors)",
             responses={**SUPERVISOR_ONLY, **INVALID})
def create_canned(body: CannedBody, me: Principal = SUPERVISOR,
                  session: Session = DB) -> dict[str, Any]:
    with session.begin():
        reply = canned.create(session, editor(me), body.title, body.shortcut, body.text)
        return canned.view(reply, _names(session))


@router.put("/canned/{reply_id}", summary="Edit a canned reply (supervisors)",
            responses={**SUPERVISOR_ONLY, **INVALID, **NOT_FOUND, **REFUSED})
def edit_canned(body: CannedBody, reply_id: int = REPLY_ID, me: Principal = SUPERVISOR,
                session: Session = DB) -> dict[str, Any]:
    with session.begin():
        reply = canned.edit(session, editor(me), reply_id, body.title, body.shortcut,
                            body.text, body.version, body.position)
        return canned.view(reply, _names(session))


@router.post("/canned/{reply_id}/disable", summary="Disable: no longer offered to agents",
             responses={**SUPERVISOR_ONLY, **NOT_FOUND})
def disable_canned(reply_id: int = REPLY_ID, me: Principal = SUPERVISOR,
                   session: Session = DB) -> dict[str, Any]:
    with session.begin():
        reply = canned.set_active(session, editor(me), reply_id, False)
        return canned.view(reply, _names(session))


@router.post("/canned/{reply_id}/enable", summary="Enable a disabled canned reply again",
             responses={**SUPERVISOR_ONLY, **NOT_FOUND})
def enable_canned(reply_id: int = REPLY_ID, me: Principal = SUPERVISOR,
                  session: Session = DB) -> dict[str, Any]:
    with session.begin():
        reply = canned.set_active(session, editor(me), reply_id, True)
        return canned.view(reply, _names(session))


@router.get("/handoffs/{handoff_id}/canned/{reply_id}",
            summary="A canned reply filled for this conversation (the agent holding it)",
            responses={**NOT_FOUND, **REFUSED})
def fill_canned(handoff_id: int = HANDOFF_ID, reply_id: int = REPLY_ID,
                me: Principal = SIGNED_IN, session: Session = DB) -> dict[str, Any]:
    """``text`` with the variables filled; what the conversation does not have is a
    visible 【待填：…】, listed in ``missing`` with the reason (``complete`` false), and
    sending a reply that still holds it is refused."""
    with session.begin():
        history.check_visible(session, me.agent_id, handoff_id)
        handoff = service.held_by(session, handoff_id, me.agent_id)
        reply = canned.get(session, reply_id)
        if not reply.active:
            raise Refused("这条常用回复已停用", 404)
        filled = canned.fill(reply.text, canned.values_for(session, handoff, me.name))
        return {"id": reply.id, "title": reply.title, "shortcut": reply.shortcut, **filled}
