"""The agent console: FastAPI app with the JSON API under /console/api and the Chinese
UI (static HTML/CSS/JS) under /console/.

Security: sessions live server-side in ``agent_sessions`` (the cookie holds a random
token, the table only its SHA-256); the cookie is HttpOnly, SameSite=Strict, Path
/console and Secure over https. Every state-changing request needs the session's CSRF
token in the ``X-CSRF-Token`` header (403 otherwise) and, when the browser sends an
Origin, the console's own origin. Every API route but login needs a session (401).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, constr
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from console import knowledge, live, security, service
from console.config import Settings
from console.delivery import MAX_CHARS, NO_PUSH_CHANNELS
from console.deps import (
    COOKIE,
    SIGNED_IN,
    Console,
    Principal,
    authenticated,
    same_origin,
)
from console.events import EventSource, make_event_source
from console.rasa_client import RasaError
from console.transcript import transcript
from core.db.models import Agent, AgentPresence, AgentSession, utcnow

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
LOGIN_FAILED = "用户名或密码不对"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; media-src 'self' data:; frame-ancestors 'none'; "
       "base-uri 'none'; form-action 'self'")


# --- request bodies --------------------------------------------------------------------
class LoginBody(BaseModel):
    username: constr(strip_whitespace=True, min_length=1, max_length=40)  # type: ignore[valid-type]
    password: constr(min_length=1, max_length=200)  # type: ignore[valid-type]


class PresenceBody(BaseModel):
    presence: Literal["online", "away"]


class MessageBody(BaseModel):
    text: constr(strip_whitespace=True, min_length=1, max_length=MAX_CHARS)  # type: ignore[valid-type]


class NoteBody(BaseModel):
    text: constr(strip_whitespace=True, min_length=1, max_length=2000)  # type: ignore[valid-type]


class TransferBody(BaseModel):
    agent_id: int


class CloseBody(BaseModel):
    resolution: constr(strip_whitespace=True, min_length=1, max_length=500)  # type: ignore[valid-type]


class Problem(BaseModel):
    detail: str = Field(..., description="为客服准备的中文说明")


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "没有登录或登录已过期"},
    403: {"model": Problem, "description": "缺少 CSRF 令牌或来源不对"},
}


# --- authentication ----------------------------------------------------------------------
def _refused(error: service.Refused) -> HTTPException:
    return HTTPException(error.status, error.message)


def _cookie_secure(console: Console, request: Request) -> bool:
    setting = console.settings.cookie_secure
    if setting == "auto":
        return request.url.scheme == "https"
    return setting == "true"


# --- the app -------------------------------------------------------------------------------
def create_app(settings: Settings | None = None, *,
               rasa_transport: httpx.BaseTransport | None = None,
               event_source: EventSource | None = None,
               sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
               background: bool = True) -> FastAPI:
    settings = settings or Settings.from_env()
    console = Console(settings, rasa_transport, event_source, sleep)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        console.hub.loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[None]] = []
        source = console.event_source
        if background:
            source = source or make_event_source(settings)
            console.event_source = source
            tasks = [asyncio.create_task(console.watcher.run()),
                     asyncio.create_task(_follow_forever(console, source)),
                     asyncio.create_task(_sweep_forever(console))]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if source is not None:
                with contextlib.suppress(Exception):
                    await source.close()
            console.rasa.close()

    app = FastAPI(
        title="商户客服工作台 API", version="1.0",
        description="Agent console of the merchant-support assistant. Every route but "
                    "login needs the session cookie; state-changing routes also need the "
                    "X-CSRF-Token header (from login or GET /console/api/me).",
        openapi_url="/console/api/openapi.json", docs_url=None, redoc_url=None,
        lifespan=lifespan,
    )
    app.state.console = console

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.url.path.startswith("/console/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    public = APIRouter(prefix="/console/api", tags=["登录"])
    api = APIRouter(prefix="/console/api", dependencies=[SIGNED_IN],
                    responses=ERRORS)

    @public.post("/login", summary="Sign in (sets the session cookie)",
                 responses={401: {"model": Problem}, 429: {"model": Problem}})
    async def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
        if not same_origin(request):
            raise HTTPException(403, "请求来源不对")
        result = await run_in_threadpool(_attempt_login, console, body.username, body.password)
        if result["outcome"] == "locked":
            await console.sleep(console.policy.slowdown_max_s)
            raise HTTPException(
                429, f"登录失败次数太多，账号已锁定{int(settings.lock_minutes)}分钟，请稍后再试")
        if result["outcome"] == "failed":
            await console.sleep(console.policy.delay_after(result["failures"]))
            raise HTTPException(401, LOGIN_FAILED)
        response.set_cookie(
            COOKIE, result["token"], max_age=int(settings.session_hours * 3600),
            path="/console", httponly=True, samesite="strict",
            secure=_cookie_secure(console, request))
        return {"agent": result["agent"], "csrf_token": result["csrf_token"]}

    @api.post("/logout", summary="Sign out (the session is deleted)")
    def logout(response: Response,
               me: Principal = SIGNED_IN) -> dict[str, str]:
        now = utcnow()
        with Session(console.engine) as session, session.begin():
            row = session.get(AgentSession, me.session_hash)
            if row is not None:
                session.delete(row)
                session.flush()
            if service.live_sessions(session, me.agent_id, now) == 0:
                session.get(Agent, me.agent_id).presence = AgentPresence.offline
        response.delete_cookie(COOKIE, path="/console")
        return {"status": "ok"}

    @api.get("/me", summary="The signed-in agent, the CSRF token and the working hours")
    def me_view(me: Principal = SIGNED_IN) -> dict[str, Any]:
        with Session(console.engine) as session:
            agent = session.get(Agent, me.agent_id)
            return {"agent": service.agent_summary(session, agent),
                    "csrf_token": me.csrf_token, "service_hours": console.hours_view(),
                    "max_chars": MAX_CHARS}

    @api.put("/me/presence", summary="Set presence: online or away")
    def set_presence(body: PresenceBody,
                     me: Principal = SIGNED_IN) -> dict[str, Any]:
        with Session(console.engine) as session, session.begin():
            agent = session.get(Agent, me.agent_id)
            agent.presence = AgentPresence(body.presence)
            agent.last_seen_at = utcnow()
            return {"agent": service.agent_summary(session, agent)}

    @api.get("/queue", summary="Waiting conversations, tickets, mine, agents online")
    def queue(me: Principal = SIGNED_IN) -> dict[str, Any]:
        with Session(console.engine) as session:
            snapshot = service.queue_snapshot(session, me.agent_id)
        return {**snapshot, "service_hours": console.hours_view(),
                "server_time": service.epoch(utcnow())}

    @api.get("/canned", summary="Canned replies from the assistant's FAQ answers")
    def canned() -> list[dict[str, str]]:
        return console.canned

    @api.get("/handoffs/{handoff_id}", summary="One conversation: transcript, account, notes")
    def conversation(handoff_id: int, me: Principal = SIGNED_IN) -> dict[str, Any]:
        try:
            with Session(console.engine) as session:
                view = service.conversation(session, handoff_id, viewer=me.agent_id)
                handoff = service.get_handoff(session, handoff_id)
                sender_id, channel = handoff.sender_id, handoff.channel
        except service.Refused as error:
            raise _refused(error) from None
        try:
            tracker = console.rasa.tracker(sender_id)
            view["transcript"] = transcript(tracker)
            view["window"] = console.delivery.window(channel, tracker)
            view["transcript_error"] = None
        except RasaError as error:
            view["transcript"] = []
            view["window"] = {"applies": channel == "wechat", "open": True}
            view["transcript_error"] = f"读取对话记录失败：{error.message}"
        view["can_push"] = channel not in NO_PUSH_CHANNELS
        return view

    @api.post("/handoffs/{handoff_id}/claim", summary="Claim a waiting conversation or ticket",
              responses={409: {"model": Problem}})
    def claim(handoff_id: int, me: Principal = SIGNED_IN) -> dict[str, Any]:
        try:
            with Session(console.engine) as session, session.begin():
                service.claim(session, handoff_id, me.agent_id)
        except service.Refused as error:
            raise _refused(error) from None
        notice_error = console.delivery.notify(
            handoff_id, f"客服{me.name}已接入，正在查看你的问题。", "claimed")
        return {"handoff_id": handoff_id, "notice_error": notice_error}

    @api.post("/handoffs/{handoff_id}/messages", summary="Reply to the merchant",
              responses={409: {"model": Problem}})
    def send_message(handoff_id: int, body: MessageBody,
                     me: Principal = SIGNED_IN) -> dict[str, Any]:
        try:
            message_id = console.delivery.send(handoff_id, me.agent_id, body.text)
        except service.Refused as error:
            raise _refused(error) from None
        return _message(console, message_id)

    @api.post("/messages/{message_id}/retry", summary="Send a failed reply again",
              responses={409: {"model": Problem}})
    def retry(message_id: int, me: Principal = SIGNED_IN) -> dict[str, Any]:
        try:
            console.delivery.retry(message_id, me.agent_id)
        except service.Refused as error:
            raise _refused(error) from None
        return _message(console, message_id)

    @api.post("/handoffs/{handoff_id}/notes", summary="Add an internal note (never sent)")
    def add_note(handoff_id: int, body: NoteBody,
                 me: Principal = SIGNED_IN) -> dict[str, Any]:
        try:
            with Session(console.engine) as session, session.begin():
                note = service.add_note(session, handoff_id, me.agent_id, body.text)
                return {"id": note.id, "text": note.text, "agent": me.name,
                        "created_at": service.epoch(note.created_at)}
        except service.Refused as error:
            raise _refused(error) from None

    @api.post("/handoffs/{handoff_id}/transfer", summary="Hand over to another online agent",
              responses={409: {"model": Problem}})
    def transfer(handoff_id: int, body: TransferBody,
                 me: Principal = SIGNED_IN) -> dict[str, Any]:
        try:
            with Session(console.engine) as session, session.begin():
                handoff = service.transfer(session, handoff_id, me.agent_id, body.agent_id)
                target = session.get(Agent, handoff.agent_id).display_name
        except service.Refused as error:
            raise _refused(error) from None
        notice_error = console.delivery.notify(
            handoff_id, f"已为你转接给客服{target}，请稍等。", "transferred")
        return {"handoff_id": handoff_id, "agent": target, "notice_error": notice_error}

    @api.post("/handoffs/{handoff_id}/close", summary="Close: the bot takes over again",
              responses={409: {"model": Problem}})
    def close(handoff_id: int, body: CloseBody,
              me: Principal = SIGNED_IN) -> dict[str, Any]:
        try:
            with Session(console.engine) as session, session.begin():
                handoff = service.close(session, handoff_id, me.agent_id, body.resolution)
                sender_id, channel = handoff.sender_id, handoff.channel
        except service.Refused as error:
            raise _refused(error) from None
        warning = None
        try:
            console.rasa.trigger_intent(sender_id, channel, "handoff_closed")
        except RasaError as error:
            if error.status == 404:  # the merchant side's handoff flow is not deployed
                warning = ("会话已结束，但对话服务还不认识 handoff_closed，"
                           "机器人没能接回对话并邀请评分")
            else:
                warning = f"会话已结束，但机器人没能接回对话：{error.message}"
        return {"handoff_id": handoff_id, "status": "closed", "warning": warning}

    @api.get("/stream", summary="Server-sent events: queue, messages, delivery, claims",
             response_class=StreamingResponse)
    async def stream(request: Request,
                     me: Principal = SIGNED_IN) -> StreamingResponse:
        return StreamingResponse(_events(console, request, me),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    app.include_router(public)
    app.include_router(api)
    app.include_router(knowledge.router)

    @app.get("/console/api/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html")

    @app.get("/console/api/{rest:path}", include_in_schema=False)
    def unknown_api(rest: str, request: Request) -> JSONResponse:
        authenticated(request)
        return JSONResponse({"detail": "没有这个接口"}, status_code=404)

    @app.get("/", include_in_schema=False)
    @app.get("/console", include_in_schema=False)
    def to_console() -> RedirectResponse:
        return RedirectResponse("/console/")

    @app.get("/console/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/console/static", StaticFiles(directory=STATIC), name="static")
    return app


def _message(console: Console, message_id: int) -> dict[str, Any]:
    from core.db.models import AgentMessage

    with Session(console.engine) as session:
        names = dict(session.execute(select(Agent.id, Agent.display_name)).all())
        return service.message_view(session.get(AgentMessage, message_id), names)


def _attempt_login(console: Console, username: str, password: str) -> dict[str, Any]:
    now = utcnow()
    policy = console.policy
    with Session(console.engine) as session, session.begin():
        agent = session.execute(
            select(Agent).where(Agent.username == username).with_for_update()
        ).scalar_one_or_none()
        if agent is None:
            strikes = console.unknown.get(username)
            security.verify_password(None, password)  # the same work as for a real name
            if security.is_locked(strikes, now):
                return {"outcome": "locked"}
            strikes = security.register_failure(strikes, policy, now)
            console.unknown.put(username, strikes)
            if strikes.locked_until is not None:
                return {"outcome": "locked"}
            return {"outcome": "failed", "failures": strikes.failures}
        strikes = security.Strikes(agent.failed_logins, agent.locked_until)
        correct = security.verify_password(agent.password_hash, password)
        if security.is_locked(strikes, now):
            return {"outcome": "locked"}
        if not correct:
            strikes = security.register_failure(
                security.Strikes(agent.failed_logins, None), policy, now)
            agent.failed_logins, agent.locked_until = strikes.failures, strikes.locked_until
            if strikes.locked_until is not None:
                logger.warning("console: agent %s locked after failed sign-ins", agent.id)
                return {"outcome": "locked"}
            return {"outcome": "failed", "failures": strikes.failures}
        if security.needs_rehash(agent.password_hash):
            agent.password_hash = security.hash_password(password)
        token, csrf = security.new_token(), security.new_token()
        session.add(AgentSession(
            token_hash=security.token_hash(token), agent_id=agent.id, csrf_token=csrf,
            created_at=now,
            expires_at=now + dt.timedelta(hours=console.settings.session_hours)))
        agent.failed_logins, agent.locked_until = 0, None
        agent.presence, agent.last_seen_at = AgentPresence.online, now
        session.flush()
        return {"outcome": "ok", "token": token, "csrf_token": csrf,
                "agent": service.agent_summary(session, agent)}


def _sse(event: dict[str, Any]) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n"


def _still_signed_in(console: Console, me: Principal) -> bool:
    now = utcnow()
    with Session(console.engine) as session, session.begin():
        row = session.get(AgentSession, me.session_hash)
        if row is None or row.expires_at <= now:
            return False
        session.execute(update(Agent).where(Agent.id == me.agent_id)
                        .values(last_seen_at=now)
                        .execution_options(synchronize_session=False))
        return True


async def _events(console: Console, request: Request, me: Principal) -> AsyncIterator[str]:
    """Hub events as SSE; every 15 s a keep-alive that also checks the session and
    marks the agent as seen (presence stays while a console page is open)."""
    loop = asyncio.get_running_loop()
    key, queue = console.hub.subscribe(me.agent_id)
    next_beat = loop.time() + 15
    try:
        yield "retry: 3000\n\n"
        yield _sse({"type": "hello", "agent_id": me.agent_id})
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), max(0.1, next_beat - loop.time()))
                yield _sse(event)
            except asyncio.TimeoutError:
                pass
            if loop.time() < next_beat:
                continue
            next_beat = loop.time() + 15
            if await request.is_disconnected():
                return
            if not await run_in_threadpool(_still_signed_in, console, me):
                yield _sse({"type": "signed_out"})
                return
            yield ": keep-alive\n\n"
    finally:
        console.hub.unsubscribe(key)


async def _follow_forever(console: Console, source: EventSource) -> None:
    while True:
        try:
            await live.follow(source, console.watcher, console.hub)
            return
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - broker down: try again shortly
            logger.exception("console: event source failed, retrying in 5 s")
            await asyncio.sleep(5)


async def _sweep_forever(console: Console) -> None:
    timeout = dt.timedelta(seconds=console.settings.presence_timeout_s)
    stale = dt.timedelta(seconds=4 * console.settings.rasa_timeout_s + 5)
    while True:
        await asyncio.sleep(min(15.0, console.settings.presence_timeout_s / 3))
        try:
            await asyncio.to_thread(live.sweep, console.engine, timeout,
                                    console.hub.connected_agents())
            await asyncio.to_thread(console.delivery.reconcile, stale)
        except Exception:  # noqa: BLE001 - try again next round
            logger.exception("console: sweep failed")
