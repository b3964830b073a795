"""The agent console: FastAPI app with the JSON API under /console/api and the Chinese
UI (static HTML/CSS/JS) under /console/. ``create_app`` only wires: the routers (one per
resource, console.routes), the refusal handler (console.errors), the security headers
and the lifespan that runs the background tasks.

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
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from console import live
from console.config import Settings
from console.deps import Console
from console.errors import Refused, answer_refused
from console.events import EventSource, make_event_source
from console.notices import NOTICE_POLL_S, NoticeWorker
from console.routes import ROUTERS, pages
from core.materials.storage import Storage

logger = logging.getLogger(__name__)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; media-src 'self' data:; frame-ancestors 'none'; "
       "base-uri 'none'; form-action 'self'")


def create_app(settings: Settings | None = None, *,
               rasa_transport: httpx.BaseTransport | None = None,
               event_source: EventSource | None = None,
               sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
               background: bool = True,
               materials_storage: Storage | None = None) -> FastAPI:
    console = Console(settings or Settings.from_env(), rasa_transport, event_source, sleep,
                      materials_storage)
    app = FastAPI(
        title="商户客服工作台 API", version="1.0",
        description="Agent console of the merchant-support assistant. Every route but "
                    "login needs the session cookie; state-changing routes also need the "
                    "X-CSRF-Token header (from login or GET /console/api/me).",
        openapi_url="/console/api/openapi.json", docs_url=None, redoc_url=None,
        lifespan=partial(lifespan, background=background),
    )
    app.state.console = console
    app.middleware("http")(security_headers)
    app.add_exception_handler(Refused, answer_refused)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=pages.STATIC), name="static")
    return app


async def security_headers(request: Request, call_next: Any) -> Response:
    response: Response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.url.path.startswith("/console/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@asynccontextmanager
async def lifespan(app: FastAPI, *, background: bool) -> AsyncIterator[None]:
    """The hub on the serving loop; with ``background``, the database watcher, the
    event follower, the sweep and the notices to merchants (console.notices) run until
    shutdown."""
    console: Console = app.state.console
    console.hub.loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    source = console.event_source
    if background:
        source = source or make_event_source(console.settings)
        console.event_source = source
        tasks = [asyncio.create_task(console.watcher.run()),
                 asyncio.create_task(_follow_forever(console, source)),
                 asyncio.create_task(_sweep_forever(console)),
                 asyncio.create_task(_notices_forever(console))]
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


async def _notices_forever(console: Console) -> None:
    worker = NoticeWorker(console.engine, console.rasa, console.settings.wechat_window_hours)
    try:
        while True:
            try:
                await asyncio.to_thread(worker.run_once)
            except Exception:  # noqa: BLE001 - database down: try again next round
                logger.exception("console: notice delivery failed")
            await asyncio.sleep(NOTICE_POLL_S)
    finally:
        worker.close()
