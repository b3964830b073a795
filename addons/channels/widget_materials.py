"""Appeal materials from the chat widget: HTTP next to the widget channel (``/widget``).

- ``POST /widget/materials`` (``multipart/form-data``: ``session_id``, ``secret``,
  ``file``, optional ``appeal_id``): one file for the merchant's own open appeal;
- ``POST /widget/materials/list`` (JSON ``{session_id, secret}``): that appeal's files;
- ``POST /widget/materials/file`` (JSON ``{session_id, secret, material_id}``): one
  clean file's bytes, as a download (never rendered: ``nosniff``, a sandboxing CSP).

Who may: the holder of the widget session's secret (the same proof as the transcript:
the secret must hash to the session id; the secret never travels in a URL), whose
session passed the identity check (an identity binding of channel ``widget``), and only
for that merchant's open appeal. Anything else answers 403 ``forbidden`` (bad secret)
or 404 ``not_found`` (not verified, no open appeal, someone else's appeal or file: the
same answer, so ids cannot be probed). Every file goes through ``core.materials``
(sniffed type, limits, EXIF stripped, PDF checks, clamd), and a refusal answers the
merchant's Chinese text in ``message``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import Awaitable
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from addons.channels.widget import SECRET, SESSION_ID, WidgetInput, session_id_for
from core.materials import ACCEPTED, QUARANTINED, MaterialsPipeline, NotFound, Outcome
from core.materials.errors import message_for
from core.materials.pipeline import source_ref as materials_source
from core.materials.storage import StorageError

logger = logging.getLogger(__name__)

CHANNEL_NAME = "widget"
MATERIAL_ID = re.compile(r"^[A-Za-z0-9_-]{8,40}$")
APPEAL_ID = re.compile(r"^AP\d{11}$", re.IGNORECASE)
# HTTP status of each refusal (the body always carries reason and message).
STATUS_OF = {
    "empty": 400, "too_large": 413, "wrong_type": 415, "unreadable": 422, "unsafe": 422,
    "pdf_active": 422, "infected": 422, "too_many": 409, "no_appeal": 404,
    "not_verified": 404, "unavailable": 503,
}
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
}


def outcome_body(outcome: Outcome) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"status": outcome.status, "message": outcome.message}
    if outcome.kept:
        body.update(material_id=outcome.material_id, appeal_id=outcome.appeal_id,
                    count=outcome.count)
        return (200 if outcome.status == ACCEPTED else 202), body
    body["reason"] = outcome.reason
    return STATUS_OF.get(outcome.reason, 422), body


class WidgetMaterials:
    """The three requests, as methods (tests drive them without a network)."""

    def __init__(self, channel: WidgetInput, pipeline: MaterialsPipeline) -> None:
        self.channel = channel
        self.pipeline = pipeline
        self._background: set[asyncio.Task] = set()

    @staticmethod
    def session_of(fields: Any) -> tuple[int, str]:
        """(0, session id) for a proven session; (status, "") otherwise."""
        if not isinstance(fields, dict):
            return 400, ""
        secret, session_id = fields.get("secret"), fields.get("session_id")
        if not isinstance(secret, str) or not SECRET.match(secret) \
                or not isinstance(session_id, str) or not SESSION_ID.match(session_id):
            return 400, ""
        if session_id_for(secret) != session_id:
            return 403, ""
        return 0, session_id

    async def upload(self, fields: dict[str, Any], filename: str | None,
                     data: bytes | None) -> tuple[int, dict[str, Any]]:
        status, session_id = self.session_of(fields)
        if status:
            return status, {"error": "bad_request" if status == 400 else "forbidden"}
        appeal_id = fields.get("appeal_id") or None
        if appeal_id is not None and (not isinstance(appeal_id, str)
                                      or not APPEAL_ID.match(appeal_id)):
            return 400, {"error": "bad_request"}
        if data is None:
            return 400, {"error": "bad_request", "message": message_for("empty")}
        if not await self.channel.rate_limiter.allow("widget-materials", session_id):
            return 429, {"error": "rate_limited", "message": "发得有点快，请稍等一会儿再上传。"}
        source_ref = materials_source(CHANNEL_NAME, session_id, secrets.token_urlsafe(12))
        outcome = await asyncio.to_thread(
            self.pipeline.accept_for_sender, CHANNEL_NAME, session_id, data, filename,
            source_ref, appeal_id)
        if outcome.status == ACCEPTED:
            # The scanner answers again: files quarantined while it was down can go on.
            self._spawn(asyncio.to_thread(self.pipeline.rescan_quarantined, 20))
        elif outcome.status == QUARANTINED:
            logger.warning("widget: material %s quarantined (scanner down)", outcome.material_id)
        return outcome_body(outcome)

    async def listing(self, fields: Any) -> tuple[int, dict[str, Any]]:
        status, session_id = self.session_of(fields)
        if status:
            return status, {"error": "bad_request" if status == 400 else "forbidden"}
        try:
            owner = await asyncio.to_thread(self.pipeline.owner, CHANNEL_NAME, session_id)
        except Exception as error:  # noqa: BLE001 - Refused, or the database down
            reason = getattr(error, "reason", "unavailable")
            return STATUS_OF.get(reason, 503), {"error": "not_found" if reason != "unavailable"
                                                else "unavailable",
                                                "message": message_for(reason)}
        return 200, {"appeal_id": owner.appeal_id,
                     "materials": [view.public() for view in
                                   self.pipeline.sent_by(owner, CHANNEL_NAME, session_id)]}

    async def file(self, fields: Any) -> tuple[int, Any, str]:
        """(status, bytes or error body, content type)."""
        status, session_id = self.session_of(fields)
        if status:
            return status, {"error": "bad_request" if status == 400 else "forbidden"}, ""
        material_id = fields.get("material_id")
        if not isinstance(material_id, str) or not MATERIAL_ID.match(material_id):
            return 400, {"error": "bad_request"}, ""
        try:
            material, data = await asyncio.to_thread(
                self.pipeline.read_for_sender, CHANNEL_NAME, session_id, material_id)
        except NotFound:
            return 404, {"error": "not_found"}, ""
        except StorageError as error:
            logger.error("widget: material %s unreadable: %s", material_id, error)
            return 503, {"error": "unavailable"}, ""
        return 200, data, material.content_type

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for the background rescans (tests, shutdown)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout_s)


def _json_fields(request: Request) -> Any:
    try:
        return json.loads((request.body or b"").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def add_material_routes(bp: Blueprint, channel: WidgetInput,
                        pipeline: MaterialsPipeline | None = None) -> WidgetMaterials:
    """Mounts the materials routes on the widget channel's blueprint."""
    materials = WidgetMaterials(
        channel, pipeline or getattr(channel, "materials_pipeline", None) or MaterialsPipeline())
    channel.materials = materials  # type: ignore[attr-defined]

    @bp.listener("before_server_stop")
    async def finish_rescans(*_: Any) -> None:
        await materials.drain()

    def preflight(headers: dict[str, str]) -> HTTPResponse:
        return response.empty(headers={
            **headers, "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600"})

    @bp.route("/materials", methods=["POST", "OPTIONS"])
    async def upload(request: Request) -> HTTPResponse:
        headers = channel._cors_headers(request)
        if request.method == "OPTIONS":
            return preflight(headers)
        form = request.form or {}
        fields = {name: form.get(name) for name in ("session_id", "secret", "appeal_id")}
        given = (request.files or {}).get("file")
        filename, data = (given.name, given.body) if given is not None else (None, None)
        status, body = await materials.upload(fields, filename, data)
        return response.json(body, status=status, headers=headers, ensure_ascii=False)

    @bp.route("/materials/list", methods=["POST", "OPTIONS"])
    async def listing(request: Request) -> HTTPResponse:
        headers = channel._cors_headers(request)
        if request.method == "OPTIONS":
            return preflight(headers)
        status, body = await materials.listing(_json_fields(request))
        return response.json(body, status=status, headers=headers, ensure_ascii=False)

    @bp.route("/materials/file", methods=["POST", "OPTIONS"])
    async def download(request: Request) -> HTTPResponse:
        headers = channel._cors_headers(request)
        if request.method == "OPTIONS":
            return preflight(headers)
        status, body, content_type = await materials.file(_json_fields(request))
        if status != 200:
            return response.json(body, status=status, headers=headers)
        return response.raw(body, content_type=content_type, headers={
            **headers, **DOWNLOAD_HEADERS, "Content-Disposition": "attachment"})

    return materials
