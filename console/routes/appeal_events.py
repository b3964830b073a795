"""The back-office API: the payment provider's risk system records appeal decisions
(需补充材料 / 通过 / 驳回) with ``POST /api/v1/appeals/{appeal_id}/events``
(docs/backoffice.md).

No agent session here: each request is signed with HMAC-SHA256 under a secret shared
with the risk system (``BACKOFFICE_SECRET``, else var/secrets/backoffice_secret made on
first use), over the timestamp, the event id, the appeal id and the raw body. Refused,
in this order: a missing, stale (±300 s) or wrong signature and a replay of an accepted
request (401); a bad event id or body (422); an unknown appeal (404); an event id used
for other content, or materials asked after the final decision (409). The same event sent
again (signed afresh) gets its first answer back and changes nothing. Answers are JSON
``{"error": code, "detail": text}`` for a machine, not the console's Chinese refusals.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError, constr, root_validator, validator
from sqlalchemy.orm import Session

from console.deps import console_of
from core.db import appeal_events
from core.db.appeal_events import DecisionKind
from core.db.models import utcnow
from core.local_secrets import local_secret

PATH = "/api/v1/appeals/{appeal_id}/events"
TIMESTAMP_HEADER = "X-Backoffice-Timestamp"
EVENT_ID_HEADER = "X-Backoffice-Event-Id"
SIGNATURE_HEADER = "X-Backoffice-Signature"
# Clock skew accepted between the risk system and us; signatures are remembered as long.
WINDOW_S = 300
MAX_BODY_BYTES = 16 * 1024
EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

router = APIRouter(tags=["back office"])

Text = constr(strip_whitespace=True, min_length=1, max_length=1000)
Material = constr(strip_whitespace=True, min_length=1, max_length=100)


class DecisionBody(BaseModel):
    """One decision of the back office on an appeal."""

    kind: Literal["needs_materials", "approved", "rejected"]
    reason: Text = Field(..., description="the reviewers' reason, shown to the merchant")
    missing_materials: list[Material] = Field(
        default_factory=list, max_items=20,
        description="what the merchant still has to send (needs_materials, rejected)")
    decided_at: dt.datetime = Field(..., description="ISO 8601 with a time zone")

    class Config:
        extra = "forbid"

    @validator("decided_at")
    def _aware(cls, value: dt.datetime) -> dt.datetime:  # noqa: N805 - pydantic validator
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("decided_at needs a time zone (e.g. +08:00 or Z)")
        return value

    @root_validator(skip_on_failure=True)
    def _materials_fit(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805
        if values.get("kind") == "approved" and values.get("missing_materials"):
            raise ValueError("an approval has no missing materials")
        return values

    def decided_at_utc(self) -> dt.datetime:
        return self.decided_at.astimezone(dt.timezone.utc).replace(tzinfo=None)


def refusal(status: int, error: str, detail: Any) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status,
                        headers={"Cache-Control": "no-store"})


def signing_input(timestamp: str, event_id: str, appeal_id: str, body: bytes) -> bytes:
    """What is signed: the four parts joined by newlines (none of them can hold one)."""
    return f"{timestamp}\n{event_id}\n{appeal_id}\n".encode() + body


def sign(secret: str, timestamp: str, event_id: str, appeal_id: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), signing_input(timestamp, event_id, appeal_id, body),
                    hashlib.sha256).hexdigest()


def backoffice_secret(request: Request) -> str:
    """Read once per app: the environment variable, else the generated local file."""
    state = request.app.state
    if getattr(state, "backoffice_secret", None) is None:
        state.backoffice_secret = local_secret("backoffice_secret", "BACKOFFICE_SECRET")
    return state.backoffice_secret


def check_signature(request: Request, appeal_id: str, body: bytes,
                    now: float) -> tuple[str, str] | JSONResponse:
    """(event id, signature) of a well-signed, fresh request; the refusal otherwise."""
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    event_id = request.headers.get(EVENT_ID_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "").strip().lower()
    if not (timestamp and event_id and signature):
        return refusal(401, "missing_signature",
                       f"{TIMESTAMP_HEADER}, {EVENT_ID_HEADER} and {SIGNATURE_HEADER} "
                       "are required")
    if not timestamp.isdigit() or len(timestamp) > 12:
        return refusal(401, "invalid_timestamp", "the timestamp must be Unix seconds")
    skew = int(timestamp) - now
    if abs(skew) > WINDOW_S:
        return refusal(401, "stale_timestamp",
                       f"the timestamp is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'}"
                       f" the server clock (at most {WINDOW_S} s allowed); sign again with "
                       "the current time")
    expected = sign(backoffice_secret(request), timestamp, event_id, appeal_id, body)
    if not hmac.compare_digest(expected, signature):
        return refusal(401, "bad_signature", "the signature does not match")
    return event_id, expected


def _record(request: Request, appeal_id: str, event_id: str, signature: str,
            decision: DecisionBody) -> JSONResponse:
    now = utcnow()
    try:
        # One transaction: a refused request rolls back, leaving its signature unused.
        with Session(console_of(request).engine) as session, session.begin():
            appeal_events.claim_signature(session, signature,
                                          dt.timedelta(seconds=2 * WINDOW_S), now)
            recorded = appeal_events.record_event(
                session, appeal_id, event_id, DecisionKind(decision.kind), decision.reason,
                list(decision.missing_materials), decision.decided_at_utc(), now)
    except appeal_events.SignatureUsed:
        return refusal(401, "replayed_request",
                       "this signed request was already accepted; to send the event "
                       "again, sign it again with the current time")
    except appeal_events.UnknownAppeal:
        return refusal(404, "unknown_appeal", f"no appeal {appeal_id}")
    except appeal_events.EventConflict:
        return refusal(409, "event_conflict",
                       f"event {event_id} was recorded before with other content")
    except appeal_events.AppealAlreadyDecided:
        return refusal(409, "appeal_decided",
                       f"appeal {appeal_id} is already decided; materials can no longer "
                       "be requested")
    headers = {"Cache-Control": "no-store"}
    if recorded.repeated:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(recorded.answer, headers=headers)


@router.post(
    PATH, summary="Record a back-office decision on an appeal (HMAC-signed, no session)",
    description="Signed by the risk system, see docs/backoffice.md. Idempotent by the "
                f"{EVENT_ID_HEADER} header.",
    openapi_extra={
        "parameters": [{"name": name, "in": "header", "required": True,
                        "schema": {"type": "string"}}
                       for name in (TIMESTAMP_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER)],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": DecisionBody.schema()}}},
    },
    responses={401: {"description": "missing, stale or bad signature, or a replay"},
               404: {"description": "unknown appeal"},
               409: {"description": "event id reused for other content, or appeal decided"},
               422: {"description": "bad event id or body"}},
)
async def record_decision(appeal_id: str, request: Request) -> JSONResponse:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return refusal(413, "body_too_large", f"at most {MAX_BODY_BYTES} bytes")
    checked = check_signature(request, appeal_id, body, time.time())
    if isinstance(checked, JSONResponse):
        return checked
    event_id, signature = checked
    if not EVENT_ID.match(event_id):
        return refusal(422, "invalid_event_id",
                       "the event id must be 1-64 characters of A-Z a-z 0-9 _ . : -")
    try:
        decision = DecisionBody.parse_raw(body, content_type="application/json")
    except ValidationError as error:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
                    for e in error.errors()]
        return refusal(422, "invalid_body", problems)
    if decision.decided_at_utc() > utcnow() + dt.timedelta(seconds=WINDOW_S):
        return refusal(422, "invalid_body",
                       [{"field": "decided_at", "problem": "in the future"}])
    return await run_in_threadpool(_record, request, appeal_id, event_id, signature, decision)
