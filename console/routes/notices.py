"""The notices to the merchant of a conversation
(``GET /console/api/handoffs/{id}/notices``): per appeal whether the merchant agreed to
be told and set a phrase (never the phrase), and each notice's status, attempts, last
error and next try (console.notice_panel). 404 for a conversation the agent may not
read, the same as for none."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from console import history, notice_panel
from console.deps import DB, SIGNED_IN, Principal
from console.errors import SIGNED_IN_ERRORS

router = APIRouter(prefix="/console/api", tags=["notices"], dependencies=[SIGNED_IN],
                   responses=SIGNED_IN_ERRORS)
NOT_FOUND = {404: {"description": "没有这个会话（或无权查看）"}}


@router.get("/handoffs/{handoff_id}/notices",
            summary="The conversation's notices to the merchant and their status",
            responses=NOT_FOUND)
def notices(handoff_id: int, me: Principal = SIGNED_IN,
            session: Session = DB) -> dict[str, Any]:
    with session.begin():
        return notice_panel.for_handoff(session, history.reader(session, me.agent_id),
                                        handoff_id)
