"""What every console request depends on: the app's ``Console`` (settings, engine,
clients built once per app), a database session per request, and the signed-in agent
with the CSRF check (as in the FastAPI full-stack template's ``deps.py``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import Depends, Request
from sqlalchemy import update
from sqlalchemy.orm import Session

from console import live, security
from console.config import Settings
from console.delivery import Delivery
from console.errors import Refused
from console.events import EventSource
from console.rasa_client import RasaClient
from core.db.models import Agent, AgentSession, utcnow
from core.db.session import get_engine
from core.materials.settings import MaterialsSettings
from core.materials.storage import Storage, storage_from_settings
from core.service_hours import ServiceHours

COOKIE = "console_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Principal:
    agent_id: int
    name: str
    username: str
    csrf_token: str
    session_hash: str
    supervisor: bool = False


class Console:
    """Everything a request needs, built once per app (no module-level state)."""

    def __init__(self, settings: Settings, rasa_transport: httpx.BaseTransport | None = None,
                 event_source: EventSource | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 materials_storage: Storage | None = None) -> None:
        self.settings = settings
        self.engine = get_engine(settings.db_url)
        self.rasa = RasaClient(settings.rasa_url, settings.rasa_token,
                               settings.rasa_timeout_s, transport=rasa_transport)
        self.delivery = Delivery(self.engine, self.rasa, settings.wechat_window_hours)
        self.hub = live.Hub()
        self.hours = ServiceHours.from_env()
        # The watcher also lets go of a queue nobody serves, telling each merchant.
        self.watcher = live.Watcher(self.engine, self.hub, settings.poll_s,
                                    delivery=self.delivery, hours=self.hours,
                                    left_grace_s=settings.left_grace_s)
        self.event_source = event_source
        self.sleep = sleep
        self.policy = security.LoginPolicy(
            settings.lock_after, dt.timedelta(minutes=settings.lock_minutes),
            settings.slowdown_base_s, settings.slowdown_max_s)
        self.unknown = security.UnknownUserStrikes()
        self._materials_storage = materials_storage

    @property
    def materials_storage(self) -> Storage:
        """Where appeal materials live (``MATERIALS_STORAGE*``, as the rasa server that
        stores them is configured): built on first use, so a console that never shows a
        file needs no storage settings."""
        if self._materials_storage is None:
            self._materials_storage = storage_from_settings(MaterialsSettings())
        return self._materials_storage

    def hours_view(self) -> dict[str, Any]:
        return {"describe": self.hours.describe(), "open_now": self.hours.is_open(utcnow())}


def console_of(request: Request) -> Console:
    return request.app.state.console


CONSOLE = Depends(console_of)


def db_session(request: Request) -> Iterator[Session]:
    """One session per request, shared by its dependencies. A route changes things in
    ``with session.begin():``, which commits before the route answers (FastAPI 0.99
    leaves a dependency only after the response is sent: a commit here would come after
    the client has its answer); whatever is left open is rolled back at the end."""
    with Session(console_of(request).engine) as session:
        yield session


DB = Depends(db_session)


# --- authentication ----------------------------------------------------------------------
PEER = "console.direct_peer"


class DirectPeer:
    """ASGI middleware around uvicorn's proxy headers (``console.__main__``): keeps the
    address that connected, before X-Forwarded-For replaces the client address."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            scope[PEER] = client[0] if client else None
        await self.app(scope, receive, send)


def direct_peer(request: Request) -> str | None:
    """The address that connected: as ``DirectPeer`` kept it, else the client address
    (no proxy headers applied)."""
    if PEER in request.scope:
        return request.scope[PEER]
    return request.client.host if request.client else None


@lru_cache(maxsize=32)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in proxies)


def trusted_proxy(peer: str | None, proxies: tuple[str, ...]) -> bool:
    if not peer or not proxies:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in _networks(proxies))


def same_origin(request: Request) -> bool:
    """The Origin names the host the console was reached by: the Host header, or the
    X-Forwarded-Host of a proxy in ``CONSOLE_TRUSTED_PROXIES`` (anyone else could send
    one to match their own Origin)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    forwarded = request.headers.get("x-forwarded-host")
    if forwarded and trusted_proxy(direct_peer(request),
                                   console_of(request).settings.trusted_proxies):
        host = forwarded.split(",")[0].strip()
    return urlsplit(origin).netloc == host


def authenticated(request: Request, session: Session = DB) -> Principal:
    """The signed-in agent (401 otherwise); CSRF checked on state-changing requests."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise Refused("请先登录", 401)
    digest = security.token_hash(token)
    now = utcnow()
    with session.begin():
        row = session.get(AgentSession, digest)
        if row is None or row.expires_at <= now:
            raise Refused("登录已过期，请重新登录", 401)
        agent = session.get(Agent, row.agent_id)
        if agent.last_seen_at is None or agent.last_seen_at < now - dt.timedelta(seconds=10):
            agent.last_seen_at = now
        principal = Principal(agent.id, agent.display_name, agent.username,
                              row.csrf_token, digest, bool(agent.supervisor))
    if request.method not in SAFE_METHODS:
        if not same_origin(request):
            raise Refused("请求来源不对", 403)
        if not security.same_token(principal.csrf_token, request.headers.get(CSRF_HEADER)):
            raise Refused("缺少安全校验，请刷新页面后重试", 403)
    return principal


SIGNED_IN = Depends(authenticated)


def supervising(me: Principal = SIGNED_IN) -> Principal:
    """A signed-in supervisor: the team's figures and the merchants' unanswered
    questions are theirs to read (403 for other agents)."""
    if not me.supervisor:
        raise Refused("这一页只有主管能看", 403)
    return me


SUPERVISOR = Depends(supervising)


def still_signed_in(console: Console, me: Principal) -> bool:
    """For a page that stays open (the live feed): the session is still valid, and the
    agent is marked as seen. Its own short transaction, as it runs long after the
    request's dependencies were resolved."""
    now = utcnow()
    with Session(console.engine) as session, session.begin():
        row = session.get(AgentSession, me.session_hash)
        if row is None or row.expires_at <= now:
            return False
        session.execute(update(Agent).where(Agent.id == me.agent_id)
                        .values(last_seen_at=now)
                        .execution_options(synchronize_session=False))
        return True
