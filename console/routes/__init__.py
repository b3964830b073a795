"""The console's HTTP routes, one router per resource, in the order ``create_app``
includes them (the pages last: their catch-all answers every unknown API path)."""

from __future__ import annotations

from fastapi import APIRouter

from console.routes import canned, handoffs, knowledge, login, me, messages, pages, stream

ROUTERS: list[APIRouter] = [login.router, me.router, handoffs.router, messages.router,
                            canned.router, stream.router, knowledge.router, pages.router]
