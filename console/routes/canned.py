"""Canned replies (``/console/api/canned``): the assistant's own FAQ answers, loaded
once per app (console.canned)."""

from __future__ import annotations

from fastapi import APIRouter

from console.deps import CONSOLE, SIGNED_IN, Console
from console.errors import SIGNED_IN_ERRORS

router = APIRouter(prefix="/console/api", dependencies=[SIGNED_IN], responses=SIGNED_IN_ERRORS)


@router.get("/canned", summary="Canned replies from the assistant's FAQ answers")
def canned(console: Console = CONSOLE) -> list[dict[str, str]]:
    return console.canned
