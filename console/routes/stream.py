"""The live feed (``/console/api/stream``): the hub's events (console.live) as
server-sent events, with a keep-alive that also checks the session. A conversation's
lines and delivery states reach only the agents who may read it (console.history)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from console import history
from console.deps import CONSOLE, SIGNED_IN, Console, Principal, still_signed_in
from console.errors import SIGNED_IN_ERRORS

BEAT_S = 15

router = APIRouter(prefix="/console/api", dependencies=[SIGNED_IN], responses=SIGNED_IN_ERRORS)


@router.get("/stream", summary="Server-sent events: queue, messages, delivery, claims",
            response_class=StreamingResponse)
async def stream(request: Request, me: Principal = SIGNED_IN,
                 console: Console = CONSOLE) -> StreamingResponse:
    return StreamingResponse(_events(console, request, me),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store",
                                      "X-Accel-Buffering": "no"})


def _readable(console: Console, me: Principal, handoff_ids: set[int]) -> set[int]:
    with Session(console.engine) as session:
        return history.readable_ids(session, me.agent_id, handoff_ids)


async def _for(console: Console, me: Principal,
               event: dict[str, Any]) -> dict[str, Any] | None:
    """The event as ``me`` may see it: a conversation's lines and delivery states only
    for those who may read it (console.history), as the conversation's own page."""
    if event["type"] == "message":
        ids = {int(event["handoff_id"])}
    elif event["type"] == "delivery":
        ids = {int(m["handoff_id"]) for m in event.get("messages") or []}
    else:
        return event
    if not ids:
        return event
    allowed = await run_in_threadpool(_readable, console, me, ids)
    if event["type"] == "message":
        return event if allowed else None
    messages = [m for m in event["messages"] if int(m["handoff_id"]) in allowed]
    if not messages:
        return None
    return {**event, "messages": messages,
            "message_ids": [m["id"] for m in messages]}


def _sse(event: dict[str, Any]) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n"


async def _events(console: Console, request: Request, me: Principal) -> AsyncIterator[str]:
    """Hub events as SSE; every 15 s a keep-alive that also checks the session and
    marks the agent as seen (presence stays while a console page is open)."""
    loop = asyncio.get_running_loop()
    key, queue = console.hub.subscribe(me.agent_id)
    next_beat = loop.time() + BEAT_S
    try:
        yield "retry: 3000\n\n"
        yield _sse({"type": "hello", "agent_id": me.agent_id})
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), max(0.1, next_beat - loop.time()))
                shown = await _for(console, me, event)
                if shown is not None:
                    yield _sse(shown)
            except asyncio.TimeoutError:
                pass
            if loop.time() < next_beat:
                continue
            next_beat = loop.time() + BEAT_S
            if await request.is_disconnected():
                return
            if not await run_in_threadpool(still_signed_in, console, me):
                yield _sse({"type": "signed_out"})
                return
            yield ": keep-alive\n\n"
    finally:
        console.hub.unsubscribe(key)
