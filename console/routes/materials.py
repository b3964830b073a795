"""One appeal material of a conversation
(``GET /console/api/handoffs/{id}/materials/{material_id}``): the clean file's bytes for
an agent who may read that conversation, as console.materials allows (404 otherwise,
the same for every reason). The panel itself is part of the conversation's view.

Served so that the console's origin never runs or renders it as a page: the type from
the stored kind, ``nosniff``, a sandboxing CSP, never cached, PDFs as attachments.
Images are ``inline`` (the console shows them in an <img>, allowed by its own CSP)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Path
from fastapi.responses import Response
from sqlalchemy.orm import Session

from console import history, materials, team
from console.deps import CONSOLE, DB, SIGNED_IN, Console, Principal
from console.errors import SIGNED_IN_ERRORS, Refused
from core.materials.storage import StorageError

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/console/api", tags=["materials"], dependencies=[SIGNED_IN],
                   responses=SIGNED_IN_ERRORS)
# Any length is taken: an id that cannot exist is the same 404 as one that does not.
MATERIAL = Path(..., description="材料编号（会话的申诉材料面板里给出）")
ANSWERS: dict[int | str, dict[str, object]] = {
    200: {"description": "文件内容（图片 inline，PDF 附件）",
          "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {},
                      "application/pdf": {}}},
    404: {"description": "没有这个材料（或无权查看、仍在安全检查、未通过检查）"},
    503: {"description": "材料存储暂时读不出来"},
}
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
}


@router.get("/handoffs/{handoff_id}/materials/{material_id}",
            summary="One clean appeal material of the conversation's merchant",
            response_class=Response, responses=ANSWERS)
def material(handoff_id: int, material_id: str = MATERIAL, me: Principal = SIGNED_IN,
             session: Session = DB, console: Console = CONSOLE) -> Response:
    with session.begin():
        found = materials.find(session, history.reader(session, me.agent_id), handoff_id,
                               material_id)
    # Read outside the transaction (no database lock while the storage answers).
    try:
        data = console.materials_storage.get(found.storage_key)
    except StorageError as error:
        logger.error("console: material %s unreadable: %s", found.id, error)
        raise Refused("材料暂时读不出来，请稍后再试", status=503) from None
    with session.begin():
        materials.record_view(session, found, team.Editor(me.agent_id, me.username))
    logger.info("console: agent %s viewed material %s of handoff %s", me.agent_id, found.id,
                found.handoff_id)
    return Response(data, media_type=found.content_type,
                    headers={**HEADERS, "Content-Disposition": found.disposition()})
