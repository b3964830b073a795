"""The support report (``/console/api/insights/summary`` and ``.csv``) and its page
(``/console/insights``). Figures and their definitions: core.db.insights and
docs/insights.md. Every route needs a signed-in agent; every text is masked.

The conversation figures come from the event broker's database
(``CONSOLE_EVENTS_DB_URL``, by default the separate file ``var/events.db``); when it is
not there (RabbitMQ broker, rasa never started) they are null and
``events_available`` is false, the handoff figures still come."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from console.deps import CONSOLE, SUPERVISOR, Console
from console.errors import SIGNED_IN_ERRORS, Problem, Refused
from core.db import insights
from core.privacy import mask_personal_data

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parents[1] / "static"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CHANNEL = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
BAD_PARAMS: dict[int | str, dict[str, Any]] = {
    422: {"model": Problem, "description": "日期或渠道不对"}}

# The page is public like the console's own index (it signs in through the API); every
# API route below carries SUPERVISOR itself.
router = APIRouter()


def _day(value: str | None, label: str) -> dt.date:
    if not value:
        raise Refused(f"请选择{label}（格式 YYYY-MM-DD）", 422)
    try:
        if not DATE.match(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Refused(f"{label}格式不对，应为 YYYY-MM-DD，例如 2026-12-01", 422) from None


def _params(date_from: str | None, date_to: str | None,
            channel: str | None) -> tuple[dt.date, dt.date, str | None]:
    start, end = _day(date_from, "开始日期"), _day(date_to, "结束日期")
    channel = (channel or "").strip() or None
    if channel is not None and not CHANNEL.match(channel):
        raise Refused("渠道不对，例如 wechat、widget、rest", 422)
    return start, end, channel


@cache
def _sqlite_reader(url: str) -> Engine:
    """On SQLite the console's own engine begins every transaction IMMEDIATE (it takes
    the write lock): a report must not hold it while it reads, so it reads through a
    plain engine (deferred transactions, shared lock only)."""
    return create_engine(url, future=True, connect_args={"timeout": 5})


def _merchant_reader(console: Console) -> Engine:
    if make_url(console.settings.db_url).get_backend_name() == "sqlite":
        return _sqlite_reader(console.settings.db_url)
    return console.engine


@cache
def _server_reader(url: str) -> Engine:
    return create_engine(url, future=True, pool_pre_ping=True, pool_size=2, max_overflow=2)


def _events_engine(url: str) -> Engine | None:
    """A read engine on the event broker's database; None (asked again next time) for a
    SQLite file that does not exist yet: connecting would create an empty one."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or not Path(parsed.database).exists():
            return None
        return _sqlite_reader(url)
    return _server_reader(url)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_personal_data(value)
    if isinstance(value, dict):
        return {_masked(key): _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _figures(console: Console, date_from: str | None, date_to: str | None,
             channel: str | None) -> dict[str, Any]:
    start, end, channel = _params(date_from, date_to, channel)
    engine = _events_engine(console.settings.events_db_url)
    try:
        with Session(_merchant_reader(console)) as session:
            if engine is None:
                return _masked(insights.summary(session, None, start, end, channel,
                                                console.hours))
            with engine.connect() as events:
                return _masked(insights.summary(session, events, start, end, channel,
                                                console.hours))
    except insights.PeriodError as error:
        raise Refused(str(error), 422) from None
    except SQLAlchemyError:
        logger.exception("insights: the report failed")
        raise Refused("统计暂时读取失败，请稍后再试", 503) from None


FROM = Query(None, alias="from", description="开始日期 YYYY-MM-DD（含）")
TO = Query(None, alias="to", description="结束日期 YYYY-MM-DD（含）")
CHANNEL_Q = Query(None, description="只看一个渠道：wechat / widget / rest")


@router.get("/console/api/insights/summary", responses={**SIGNED_IN_ERRORS, **BAD_PARAMS},
            dependencies=[SUPERVISOR],
            summary="Report figures for local days from..to (JSON, flat keys)")
def summary(date_from: str | None = FROM, date_to: str | None = TO,
            channel: str | None = CHANNEL_Q, console: Console = CONSOLE) -> dict[str, Any]:
    return _figures(console, date_from, date_to, channel)


def _cell(value: Any) -> str:
    """A CSV cell; a text a spreadsheet would run as a formula is quoted with '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)  # a figure, never a formula (a negative one stays a number)
    cell = str(value)
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


@router.get("/console/api/insights/summary.csv",
            responses={**SIGNED_IN_ERRORS, **BAD_PARAMS}, dependencies=[SUPERVISOR],
            summary="The same figures as CSV (metric,value), one row per group")
def summary_csv(date_from: str | None = FROM, date_to: str | None = TO,
                channel: str | None = CHANNEL_Q, console: Console = CONSOLE) -> Response:
    figures = _figures(console, date_from, date_to, channel)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["metric", "value"])
    for key, value in insights.flat_rows(figures):
        writer.writerow([_cell(key), _cell(value)])
    name = f"insights_{figures['from']}_{figures['to']}"
    if figures["channel"]:
        name += f"_{figures['channel']}"
    # A BOM so that spreadsheet programs read the UTF-8 as UTF-8.
    return Response("\ufeff" + buffer.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@router.get("/console/insights", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC / "insights.html")
