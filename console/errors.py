"""Refusals: a request the console turns down, with a message for the agent.

Routes, dependencies and services raise ``Refused``; the one handler below, registered
by ``create_app``, answers it as FastAPI answers an ``HTTPException``:
``{"detail": message}`` (or ``{"detail": {"message", "problems"}}`` when there are
problems to list) with the refusal's status."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


class Refused(Exception):
    """Turned down (409 unless said otherwise; 401/403/404/422/429 where they fit)."""

    def __init__(self, message: str, status: int = 409,
                 problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.problems = problems

    @property
    def detail(self) -> str | dict[str, Any]:
        if self.problems is None:
            return self.message
        return {"message": self.message, "problems": self.problems}


async def answer_refused(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Refused)
    return JSONResponse({"detail": error.detail}, status_code=error.status)


class Problem(BaseModel):
    detail: str = Field(..., description="为客服准备的中文说明")


# Documented on every route behind a session (``authenticated`` refuses with these).
SIGNED_IN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "没有登录或登录已过期"},
    403: {"model": Problem, "description": "缺少 CSRF 令牌或来源不对"},
}
REFUSED: dict[int | str, dict[str, Any]] = {409: {"model": Problem}}
# A body the console cannot take, with what to change (``{"message", "problems"}``).
INVALID: dict[int | str, dict[str, Any]] = {422: {"description": "内容不符合要求，附中文说明"}}
SUPERVISOR_ONLY: dict[int | str, dict[str, Any]] = {403: {"model": Problem,
                                                          "description": "只有主管能改"}}
