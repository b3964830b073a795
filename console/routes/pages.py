"""The pages: the UI (``/console/``, its static files mounted by ``create_app``), the
API documentation page, and a JSON 404 for unknown API paths (after a session check,
so unknown paths tell nothing to a stranger). Included last: the catch-all must come
after every API route."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from console.deps import SIGNED_IN

STATIC = Path(__file__).resolve().parents[1] / "static"

router = APIRouter(include_in_schema=False)


@router.get("/console/api/docs")
def docs() -> FileResponse:
    return FileResponse(STATIC / "docs.html")


@router.get("/console/api/{rest:path}", dependencies=[SIGNED_IN])
def unknown_api(rest: str) -> JSONResponse:
    return JSONResponse({"detail": "没有这个接口"}, status_code=404)


@router.get("/")
@router.get("/console")
def to_console() -> RedirectResponse:
    return RedirectResponse("/console/")


@router.get("/console/")
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/console/team")
def team_tools() -> FileResponse:
    """The supervisors' page for canned replies and labels (it signs in through the API,
    like the console itself; every change there is a supervisor's API call)."""
    return FileResponse(STATIC / "team.html")
