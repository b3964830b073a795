"""Ended conversations (``/console/api/history``): the list and its search, and one
conversation by its opaque reference, as ``console.history`` allows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from console import history, labels, views
from console.deps import CONSOLE, DB, SIGNED_IN, Console, Principal
from console.errors import SIGNED_IN_ERRORS
from core.db.models import Agent

router = APIRouter(prefix="/console/api", dependencies=[SIGNED_IN], responses=SIGNED_IN_ERRORS)
NOT_FOUND = {404: {"description": "没有这个会话（或无权查看）"}}


# Query parameters (module-level, as FastAPI's defaults are evaluated once anyway).
MERCHANT = Query(None, max_length=10, description="完整商户号")
AGENT = Query(None, ge=0, le=2**31 - 1, description="客服编号（组长可用）")
DATE_FROM = Query(None, description="结束日期起（含），团队所在时区")
DATE_TO = Query(None, description="结束日期止（含）")
TEXT = Query(None, max_length=100, description="问题、处理结果或备注中的文字")
LABEL = Query(None, ge=1, le=2**31 - 1, description="会话小结标签编号（GET /console/api/labels）")
PAGE = Query(0, ge=0, le=1000)


@router.get("/history", summary="Ended conversations: list and search")
def search(merchant: str | None = MERCHANT, agent_id: int | None = AGENT,
           date_from: dt.date | None = DATE_FROM, date_to: dt.date | None = DATE_TO,
           q: str | None = TEXT, label_id: int | None = LABEL, page: int = PAGE,
           me: Principal = SIGNED_IN, session: Session = DB,
           console: Console = CONSOLE) -> dict[str, Any]:
    filters = history.Filters(merchant=merchant or None, agent_id=agent_id,
                              date_from=date_from, date_to=date_to,
                              q=(q or "").strip() or None, label_id=label_id)
    with session.begin():
        who = history.reader(session, me.agent_id)
        items = history.search(session, who, filters, console.hours.tz, page)
        agents = [{"id": a.id, "name": a.display_name} for a in session.execute(
            select(Agent).order_by(Agent.display_name)).scalars()] if who.supervisor else []
        # Every label, the disabled ones too: the handoffs that had one keep it.
        label_list = labels.listing(session, include_disabled=True)
    return {"items": items, "page": page, "page_size": history.PAGE,
            "supervisor": who.supervisor, "agents": agents, "labels": label_list}


@router.get("/history/{ref}", summary="One ended conversation by its reference",
            responses=NOT_FOUND)
def conversation(ref: str, me: Principal = SIGNED_IN, session: Session = DB,
                 console: Console = CONSOLE) -> dict[str, Any]:
    with session.begin():
        who = history.reader(session, me.agent_id)
        handoff = history.by_ref(session, who, ref[:64])
        view = views.conversation(console, session, who, handoff)
    return views.with_transcript(console, view)
