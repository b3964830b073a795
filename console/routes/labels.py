"""The 会话小结 labels (``/console/api/labels``, console.labels): every agent lists the
ones offered at close; supervisors also see the disabled ones, add, rename, reorder,
disable and enable (403 for agents); every change is recorded
(``GET /console/api/team/changes``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from console import labels, team
from console.deps import DB, SIGNED_IN, SUPERVISOR, Principal
from console.errors import INVALID, SIGNED_IN_ERRORS, SUPERVISOR_ONLY, Refused

router = APIRouter(prefix="/console/api", tags=["labels"], dependencies=[SIGNED_IN],
                   responses=SIGNED_IN_ERRORS)
NOT_FOUND = {404: {"description": "没有这个标签"}}
LABEL_ID = Path(..., ge=1, le=2**31 - 1)
DISABLED = Query(False, description="也列出停用的（主管）")


class LabelBody(BaseModel):
    """Checked by console.labels (a clear 422 in Chinese for each problem)."""

    name: str | None = Field(None, description="标签名称（最多12字）")
    position: int | None = Field(None, ge=0, le=10000, description="排序（小的在前）")


def _editor(me: Principal) -> team.Editor:
    return team.Editor(me.agent_id, me.username)


@router.get("/labels", summary="会话小结 labels offered at close", responses=SUPERVISOR_ONLY)
def list_labels(include_disabled: bool = DISABLED, me: Principal = SIGNED_IN,
                session: Session = DB) -> dict[str, Any]:
    if include_disabled and not me.supervisor:
        raise Refused("停用的标签只有主管能看", 403)
    with session.begin():
        return {"items": labels.listing(session, include_disabled),
                "can_edit": me.supervisor}


@router.post("/labels", status_code=201, summary="Add a label (supervisors)",
             responses={**SUPERVISOR_ONLY, **INVALID})
def create_label(body: LabelBody, me: Principal = SUPERVISOR,
                 session: Session = DB) -> dict[str, Any]:
    with session.begin():
        return labels.view(labels.create(session, _editor(me), body.name))


@router.put("/labels/{label_id}", summary="Rename or move a label (supervisors)",
            responses={**SUPERVISOR_ONLY, **INVALID, **NOT_FOUND})
def edit_label(body: LabelBody, label_id: int = LABEL_ID, me: Principal = SUPERVISOR,
               session: Session = DB) -> dict[str, Any]:
    with session.begin():
        return labels.view(labels.edit(session, _editor(me), label_id, body.name,
                                       body.position))


@router.post("/labels/{label_id}/disable", summary="No longer offer a label (supervisors)",
             responses={**SUPERVISOR_ONLY, **INVALID, **NOT_FOUND})
def disable_label(label_id: int = LABEL_ID, me: Principal = SUPERVISOR,
                  session: Session = DB) -> dict[str, Any]:
    with session.begin():
        return labels.view(labels.set_active(session, _editor(me), label_id, False))


@router.post("/labels/{label_id}/enable", summary="Offer a disabled label again (supervisors)",
             responses={**SUPERVISOR_ONLY, **NOT_FOUND})
def enable_label(label_id: int = LABEL_ID, me: Principal = SUPERVISOR,
                 session: Session = DB) -> dict[str, Any]:
    with session.begin():
        return labels.view(labels.set_active(session, _editor(me), label_id, True))
