"""The unanswered-questions inbox (``/console/api/inbox``) and its page
(``/console/inbox``): the period's messages the assistant did not answer well, grouped by
meaning (core.inbox, docs/inbox.md), and the supervisor's triage of them, audited
(core.db.inbox). Every API route needs a signed-in agent (and the CSRF token for
changes); every text is masked.

"Add as similar question" saves a *draft* revision of the entry, exactly as
``PUT /console/api/knowledge/{id}`` does: publishing stays the supervisor's own step."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from console.deps import CONSOLE, DB, SUPERVISOR, Console, Principal
from console.errors import REFUSED, SIGNED_IN_ERRORS, Problem, Refused

# The report's readers of the two databases: the same engines, so the same pools.
from console.routes.insights import STATIC, _day, _events_engine, _merchant_reader
from core import inbox
from core.db import inbox as triage
from core.db import insights
from core.knowledge import store
from core.knowledge.entries import ENTRY_ID, KnowledgeError

logger = logging.getLogger(__name__)

MAX_IDS = 500
BAD_PARAMS: dict[int | str, dict[str, Any]] = {
    422: {"model": Problem, "description": "参数不对"}}
ACTIONS = {"similar": triage.ActionKind.similar, "out_of_scope": triage.ActionKind.out_of_scope,
           "ignore": triage.ActionKind.ignore}

router = APIRouter()


def _period(console: Console, date_from: str | None, date_to: str | None) -> insights.Period:
    start, end = _day(date_from, "开始日期"), _day(date_to, "结束日期")
    try:
        return insights.Period(start, end, console.hours.tz)
    except insights.PeriodError as error:
        raise Refused(str(error), 422) from None


def _groups(console: Console, period: insights.Period) -> dict[str, Any]:
    engine = _events_engine(console.settings.events_db_url)
    try:
        with Session(_merchant_reader(console)) as session:
            if engine is None:
                return inbox.inbox(None, session, period)
            with engine.connect() as events:
                return inbox.inbox(events, session, period)
    except SQLAlchemyError:
        logger.exception("inbox: reading the messages failed")
        raise Refused("收件箱暂时读取失败，请稍后再试", 503) from None


FROM = Query(None, alias="from", description="开始日期 YYYY-MM-DD（含）")
TO = Query(None, alias="to", description="结束日期 YYYY-MM-DD（含）")


@router.get("/console/api/inbox", responses={**SIGNED_IN_ERRORS, **BAD_PARAMS},
            dependencies=[SUPERVISOR],
            summary="Unanswered messages of local days from..to, grouped by meaning")
async def groups(date_from: str | None = FROM, date_to: str | None = TO,
                 console: Console = CONSOLE) -> dict[str, Any]:
    period = _period(console, date_from, date_to)
    # Embedding and clustering take a moment: off the event loop.
    return await run_in_threadpool(_groups, console, period)


class ActionBody(BaseModel):
    """A triage action on messages (a group's ``message_ids``, or one message)."""

    action: str = Field(..., description="similar / out_of_scope / ignore")
    message_ids: list[int] = Field(..., description="event ids of the messages")
    entry_id: str | None = Field(None, description="for similar: the knowledge entry")
    question: str | None = Field(
        None, description="for similar: the question to add (default: the messages' texts)")
    note: str | None = None


def _checked(body: ActionBody) -> tuple[triage.ActionKind, list[int]]:
    kind = ACTIONS.get(body.action)
    if kind is None:
        raise Refused("操作不对，应为 similar（加为相似问）、out_of_scope（超出范围）或 ignore（忽略）", 422)
    ids = list(dict.fromkeys(body.message_ids))
    if not ids or len(ids) > MAX_IDS or any(i < 1 for i in ids):
        raise Refused(f"请选择要处理的消息（1到{MAX_IDS}条）", 422)
    if kind is triage.ActionKind.similar:
        if not body.entry_id or not ENTRY_ID.match(body.entry_id):
            raise Refused("请选择要加入相似问的知识条目", 422)
        if body.question is not None and not body.question.strip():
            raise Refused("相似问不能为空", 422)
    elif body.entry_id or body.question:
        raise Refused("只有“加为相似问”需要知识条目", 422)
    if body.note is not None and len(body.note) > 500:
        raise Refused("备注最多500字", 422)
    return kind, ids


def _messages(console: Console, ids: list[int]) -> list[inbox.Message]:
    engine = _events_engine(console.settings.events_db_url)
    if engine is None:
        raise Refused("找不到这些消息", 404)
    with engine.connect() as events:
        found = inbox.messages_by_id(events, ids)
    if len(found) != len(ids):
        raise Refused("有的消息找不到了（可能已被删除），请刷新后重试", 404)
    return found


def _act(console: Console, session: Session, me: Principal, body: ActionBody
         ) -> dict[str, Any]:
    kind, ids = _checked(body)
    messages = _messages(console, ids)
    keys = [m.key for m in messages]
    revision: int | None = None
    added: list[str] = []
    with session.begin():
        if kind is triage.ActionKind.similar:
            entry = inbox.latest_entry(session, body.entry_id or "")
            if entry is None:
                raise Refused("没有这个知识条目", 404)
            texts = [body.question] if body.question else [m.text for m in messages]
            try:
                changed, added = inbox.with_similar(entry, texts)
            except KnowledgeError as error:
                raise Refused("加入后条目不能使用", 422, problems=error.problems) from error
            if added:  # the same path as PUT /console/api/knowledge/{id}: a draft
                revision = store.save_draft(session, changed, me.username,
                                            body.note or "收件箱：加为相似问").number
        try:
            row = triage.record(session, kind, me.agent_id, me.username, keys,
                                entry_id=body.entry_id, revision=revision, added=added,
                                note=body.note)
        except triage.AlreadyTriaged:
            raise Refused("有的消息已经处理过了，请刷新后重试", 409) from None
        return {"action": row.view(), "draft_revision": revision, "added": added}


@router.post("/console/api/inbox/actions",
             responses={**SIGNED_IN_ERRORS, **BAD_PARAMS, **REFUSED,
                        404: {"model": Problem}},
             summary="Triage messages: add as similar question (a draft), out of scope, ignore")
def act(body: ActionBody, session: Session = DB, me: Principal = SUPERVISOR,
        console: Console = CONSOLE) -> dict[str, Any]:
    return _act(console, session, me, body)


@router.get("/console/api/inbox/actions", responses=SIGNED_IN_ERRORS,
            dependencies=[SUPERVISOR], summary="The latest triage actions (the audit)")
def audit(session: Session = DB) -> dict[str, Any]:
    return {"actions": [row.view() for row in triage.recent(session)]}


@router.get("/console/inbox", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC / "inbox.html")
