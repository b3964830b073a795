"""Signing in and out (``/console/api/login``, ``/console/api/logout``).

Wrong passwords slow down and then lock the account (``security.LoginPolicy``); an
unknown name is refused in the same time and words as a known one. A burst of sign-ins
passes ``security.LoginGate`` a few at a time; the overflow, and a database too busy to
answer, get 503 with Retry-After."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, constr
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from console import security, service
from console.deps import CONSOLE, COOKIE, DB, SIGNED_IN, Console, Principal, same_origin
from console.errors import SIGNED_IN_ERRORS, Problem, Refused
from core.db.models import Agent, AgentPresence, AgentSession, utcnow

logger = logging.getLogger(__name__)

LOGIN_FAILED = "用户名或密码不对"
LOGIN_BUSY = "现在登录的人比较多，请稍后再试"
BUSY_RETRY_AFTER_S = 3

router = APIRouter(prefix="/console/api")


class LoginBody(BaseModel):
    # No control characters (PostgreSQL refuses NUL in a string: a 500, not an answer).
    username: constr(strip_whitespace=True, min_length=1, max_length=40,  # type: ignore[valid-type]
                     regex=r"^[^\x00-\x1f\x7f]+$")
    password: constr(min_length=1, max_length=200)  # type: ignore[valid-type]


def _cookie_secure(console: Console, request: Request) -> bool:
    setting = console.settings.cookie_secure
    if setting == "auto":
        return request.url.scheme == "https"
    return setting == "true"


def login_gate(request: Request) -> security.LoginGate:
    """The app's sign-in gate, made on first use."""
    state = request.app.state
    if getattr(state, "login_gate", None) is None:
        state.login_gate = security.LoginGate.from_env()
    return state.login_gate


def _busy() -> JSONResponse:
    return JSONResponse({"detail": LOGIN_BUSY}, status_code=503,
                        headers={"Retry-After": str(BUSY_RETRY_AFTER_S)})


@router.post("/login", tags=["登录"], summary="Sign in (sets the session cookie)",
             responses={401: {"model": Problem}, 429: {"model": Problem},
                        503: {"model": Problem, "description": "同时登录的人太多（Retry-After）"}})
async def login(body: LoginBody, request: Request, response: Response,
                session: Session = DB, console: Console = CONSOLE) -> Any:
    if not same_origin(request):
        raise Refused("请求来源不对", 403)
    try:
        async with login_gate(request).slot():
            result = await run_in_threadpool(attempt_login, session, console,
                                             body.username, body.password)
    except security.LoginBusy:
        return _busy()
    except (OperationalError, PoolTimeout) as error:  # database locked, pool exhausted
        logger.warning("console: sign-in answered busy: %s", type(error).__name__)
        return _busy()
    if result["outcome"] == "locked":
        await console.sleep(console.policy.slowdown_max_s)
        raise Refused(f"登录失败次数太多，账号已锁定{int(console.settings.lock_minutes)}分钟，"
                      "请稍后再试", 429)
    if result["outcome"] == "failed":
        await console.sleep(console.policy.delay_after(result["failures"]))
        raise Refused(LOGIN_FAILED, 401)
    response.set_cookie(
        COOKIE, result["token"], max_age=int(console.settings.session_hours * 3600),
        path="/console", httponly=True, samesite="strict",
        secure=_cookie_secure(console, request))
    return {"agent": result["agent"], "csrf_token": result["csrf_token"]}


@router.post("/logout", summary="Sign out (the session is deleted)", responses=SIGNED_IN_ERRORS)
def logout(response: Response, me: Principal = SIGNED_IN,
           session: Session = DB) -> dict[str, str]:
    now = utcnow()
    with session.begin():
        row = session.get(AgentSession, me.session_hash)
        if row is not None:
            session.delete(row)
            session.flush()
        if service.live_sessions(session, me.agent_id, now) == 0:
            session.get(Agent, me.agent_id).presence = AgentPresence.offline
    response.delete_cookie(COOKIE, path="/console")
    return {"status": "ok"}


def attempt_login(session: Session, console: Console, username: str,
                  password: str) -> dict[str, Any]:
    """One sign-in attempt, committed before the caller slows down or answers (so a
    failure counts even while the next attempt is already waiting).

    The password is hashed between two short transactions, never inside one: on SQLite
    every transaction holds the write lock, and a burst of sign-ins each holding it for
    an argon2 verification waited past the lock timeout (500)."""
    now = utcnow()
    policy = console.policy
    with session.begin():
        row = session.execute(
            select(Agent.id, Agent.password_hash, Agent.failed_logins, Agent.locked_until)
            .where(Agent.username == username)
        ).first()
    if row is None:
        security.verify_password(None, password)  # the same work as for a real name
        if security.is_locked(console.unknown.get(username), now):
            return {"outcome": "locked"}
        return _failed(console.unknown.fail(username, policy, now))
    correct = security.verify_password(row.password_hash, password)
    if security.is_locked(security.Strikes(row.failed_logins, row.locked_until), now):
        return {"outcome": "locked"}
    with session.begin():
        # The row as it is now: attempts that ran alongside may have locked it.
        agent = session.execute(
            select(Agent).where(Agent.id == row.id).with_for_update()
        ).scalar_one_or_none()
        if agent is None:  # deleted meanwhile
            return {"outcome": "failed", "failures": 1}
        if security.is_locked(security.Strikes(agent.failed_logins, agent.locked_until), now):
            return {"outcome": "locked"}
        if not correct or agent.password_hash != row.password_hash:
            strikes = security.register_failure(
                security.Strikes(agent.failed_logins, None), policy, now)
            agent.failed_logins, agent.locked_until = strikes.failures, strikes.locked_until
            if strikes.locked_until is not None:
                logger.warning("console: agent %s locked after failed sign-ins", agent.id)
            return _failed(strikes)
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


def _failed(strikes: security.Strikes) -> dict[str, Any]:
    if strikes.locked_until is not None:
        return {"outcome": "locked"}
    return {"outcome": "failed", "failures": strikes.failures}
