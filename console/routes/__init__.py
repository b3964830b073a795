"""The console's HTTP routes, one router per resource, in the order ``create_app``
includes them (the pages last: their catch-all answers every unknown API path)."""

from __future__ import annotations

from fastapi import APIRouter

from console.routes import (
    appeal_events,
    canned,
    handoffs,
    history,
    inbox,
    insights,
    knowledge,
    labels,
    login,
    materials,
    me,
    messages,
    notice_consent,
    notices,
    pages,
    stream,
    team,
)

ROUTERS: list[APIRouter] = [login.router, me.router, handoffs.router, messages.router,
                            canned.router, labels.router, team.router, materials.router,
                            stream.router, knowledge.router, history.router, insights.router,
                            appeal_events.router, inbox.router, notices.router,
                            notice_consent.router,
                            pages.router]
