"""The knowledge base's API for the support team (`/console/api/knowledge`): list, read,
save a draft, publish, roll back, retire. Every route needs a signed-in agent (and the
CSRF token for changes); the running assistants answer a published change within a few
seconds (core.knowledge.live). There are no roles yet: every agent may edit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from console.deps import DB, SIGNED_IN, Principal
from console.errors import Refused
from core.knowledge import store
from core.knowledge.entries import KnowledgeError, parse_entry

router = APIRouter(prefix="/console/api/knowledge", tags=["knowledge"], dependencies=[SIGNED_IN])


class EntryBody(BaseModel):
    """An entry's content (the YAML fields of data/knowledge, as JSON)."""

    content: dict[str, Any]
    note: str | None = Field(None, max_length=500)


class PublishBody(BaseModel):
    revision: int | None = Field(None, ge=1, description="default: the latest revision")


def _problems(status: int, error: KnowledgeError) -> Refused:
    return Refused("条目不能使用", status, problems=error.problems)


def _revisions(session: Session, entry_id: str) -> list[dict[str, Any]]:
    return [{"number": r.number, "status": r.status.value, "author": r.author, "note": r.note,
             "created_at": r.created_at.isoformat(timespec="seconds")}
            for r in store.history(session, entry_id)]


@router.get("", summary="Every entry: question, published revision, revisions")
def list_entries(session: Session = DB) -> dict[str, Any]:
    return {"version": store.version(session), "entries": store.summary(session)}


@router.get("/{entry_id}", summary="An entry's published (else latest) content and history")
def read_entry(entry_id: str, session: Session = DB) -> dict[str, Any]:
    revisions = store.history(session, entry_id)
    if not revisions:
        raise Refused("没有这个条目", 404)
    shown = next((r for r in reversed(revisions) if r.status == store.Status.published),
                 revisions[-1])
    entry = store.entry_of(shown)
    return {"id": entry_id, "revision": shown.number, "status": shown.status.value,
            "content": entry.content(), "revisions": _revisions(session, entry_id)}


@router.put("/{entry_id}", summary="Save a draft revision (answered only once published)")
def save_entry(entry_id: str, body: EntryBody, session: Session = DB,
               me: Principal = SIGNED_IN) -> dict[str, Any]:
    try:
        entry = parse_entry({**body.content, "id": entry_id})
    except KnowledgeError as error:
        raise _problems(422, error) from error
    with session.begin():
        revision = store.save_draft(session, entry, me.username, body.note)
        return {"id": entry_id, "revision": revision.number, "status": revision.status.value}


@router.post("/{entry_id}/publish", summary="Answer with a revision from now on")
async def publish_entry(entry_id: str, body: PublishBody, request_session: Session = DB,
                        me: Principal = SIGNED_IN) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        # Computing new question vectors takes a moment: off the event loop.
        with request_session.begin():
            try:
                revision = store.publish(request_session, entry_id, body.revision, me.username)
            except KnowledgeError as error:
                raise _problems(409, error) from error
            return {"id": entry_id, "revision": revision.number,
                    "version": store.version(request_session)}

    return await run_in_threadpool(work)


@router.post("/{entry_id}/rollback", summary="Answer with the revision published before")
def rollback_entry(entry_id: str, session: Session = DB,
                   me: Principal = SIGNED_IN) -> dict[str, Any]:
    with session.begin():
        try:
            revision = store.rollback(session, entry_id, me.username)
        except KnowledgeError as error:
            raise _problems(409, error) from error
        return {"id": entry_id, "revision": revision.number, "version": store.version(session)}


@router.post("/{entry_id}/retire", summary="Stop answering the entry")
def retire_entry(entry_id: str, session: Session = DB) -> dict[str, Any]:
    with session.begin():
        try:
            store.retire(session, entry_id)
        except KnowledgeError as error:
            raise _problems(409, error) from error
        return {"id": entry_id, "version": store.version(session)}
