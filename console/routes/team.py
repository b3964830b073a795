"""The team tools' audit (``/console/api/team/changes``): who created, edited,
disabled or enabled which canned reply or label, with what it was before and after,
and who downloaded which appeal material (``kind=material_viewed``; supervisors only)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from console import team
from console.deps import DB, SIGNED_IN, SUPERVISOR
from console.errors import SIGNED_IN_ERRORS, SUPERVISOR_ONLY

router = APIRouter(prefix="/console/api/team", tags=["team tools"], dependencies=[SIGNED_IN],
                   responses=SIGNED_IN_ERRORS)
KIND = Query(None, description="canned_reply、handoff_label 或 material_viewed（客服下载申诉材料）；"
                                "不填：常用回复和标签的改动")
ITEM = Query(None, ge=1, le=2**31 - 1, description="只看这一条")


@router.get("/changes", summary="Who changed which canned reply or label (supervisors)",
            dependencies=[SUPERVISOR], responses=SUPERVISOR_ONLY)
def changes(kind: Literal["canned_reply", "handoff_label", "material_viewed"] | None = KIND,
            item_id: int | None = ITEM, session: Session = DB) -> dict[str, Any]:
    with session.begin():
        return {"items": team.changes(session, kind, item_id)}
