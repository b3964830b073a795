"""The REST channel for server-to-server integrations, closed to the other channels.

Rasa's ``RestInput`` lets the caller choose both the sender id and, through the
``input_channel`` field, the channel the message claims to come from. Conversations are
keyed by sender id alone and identity bindings by channel + sender, so a caller who knew
a WeChat OpenID could have continued that merchant's conversation as "wechat". Here:

- the channel is always ``rest``, whatever the request says;
- the sender id is prefixed with ``rest:``, so a REST conversation can never be the
  conversation of a WeChat user or a widget session with the same id;
- a sender id is required, 1-64 characters of ``A-Z a-z 0-9 _ . : @ -``: without one,
  Rasa put every such request in one shared ``default`` conversation (with the identity
  verified in it); and an id that needs percent-encoding cannot be named in a rasa HTTP
  API path (Rasa 3.6 does not decode it), so the console would read and deliver to
  another conversation. Refused with 400 ``{"error": "invalid_sender", "detail": ...}``;
- a body that is not a JSON object with a string ``message`` (and, if given, an object
  ``metadata``) is refused with 400 ``{"error": "bad_request", "detail": ...}``, not 500;
- with ``REST_SHARED_SECRET`` set (do set it in production), a request without the same
  value in the ``X-Rest-Secret`` header is refused (401), compared in constant time;
- a message over ``MAX_MESSAGE_CHARS`` (413) or a sender over its rate limit (429) gets
  a polite answer in the usual response shape and does not reach the bot;
- when the turn fails — the conversation store is down (``TrackerStoreUnavailable``),
  the lock store is down (``LockError``) or anything else — the answer is 503 with a
  polite "busy, try again" message in the usual shape: never a reply computed on an
  empty conversation, never Rasa's silent ``200 []``.

Mounted at the usual ``/webhooks/rest/webhook``.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.core.lock_store import LockError
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from addons import rasa_compat
from addons.channels.rate_limit import (
    MAX_MESSAGE_CHARS,
    RATE_LIMITED_TEXT,
    TOO_LONG_TEXT,
    RateLimiter,
)
from addons.stores.tracker_store import STORE_DOWN_TEXT, TrackerStoreUnavailable

logger = logging.getLogger(__name__)

PREFIX = "rest:"
SECRET_HEADER = "X-Rest-Secret"
# Characters a URL path carries as they are: the id reaches the rasa HTTP API unchanged.
SENDER_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")
SENDER_RULE = '"sender" is required: 1-64 characters, letters A-Z a-z, digits and _ . : @ -'
# Set while a request's turn failed (one request per task).
_store_down: ContextVar[bool] = ContextVar("rest_store_down", default=False)


class RestInput(RasaRestInput):
    def __init__(self, shared_secret: str | None = None) -> None:
        self.shared_secret = shared_secret or None
        self.rate_limiter = RateLimiter(redis_url=os.environ.get("REST_REDIS_URL"))

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RestInput:
        credentials = credentials or {}
        secret = credentials.get("shared_secret") or os.environ.get("REST_SHARED_SECRET")
        if not secret:
            logger.warning("REST channel open to any caller: set REST_SHARED_SECRET")
        return cls(secret)

    async def _extract_sender(self, req: Request) -> str:
        return f"{PREFIX}{req.json['sender']}"  # checked by the guard (bad_request)

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()  # never what the caller claims

    def authorized(self, request: Request) -> bool:
        if self.shared_secret is None:
            return True
        given = request.headers.get(SECRET_HEADER, "")
        return hmac.compare_digest(given.encode(), self.shared_secret.encode())

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        async def turn(message: UserMessage) -> None:
            try:
                await on_new_message(message)
            except (TrackerStoreUnavailable, LockError) as error:
                detail = str(error).strip().splitlines()
                logger.error("rest: turn refused (%s: %s)", type(error).__name__,
                             detail[-1] if detail else "")
                busy(message)
            except Exception:  # noqa: BLE001 - rasa would answer 200 with nothing at all
                logger.exception("rest: the turn failed")
                busy(message)

        def busy(message: UserMessage) -> None:
            _store_down.set(True)
            # Whatever the turn said before it failed is not on record: not sent either.
            messages = getattr(message.output_channel, "messages", None)
            if isinstance(messages, list):
                messages[:] = [{"recipient_id": message.sender_id, "text": STORE_DOWN_TEXT}]

        # _extract_sender / _extract_input_channel override private hooks that Rasa's
        # blueprint calls: refuses to start when they changed (addons/rasa_compat.py).
        rasa_compat.check(rasa_compat.REST_INPUT_HOOKS)
        webhook = super().blueprint(turn)

        @webhook.middleware("response")
        async def store_down_status(request: Request, answer: HTTPResponse) -> None:
            if _store_down.get():
                answer.status = 503

        @webhook.middleware("request")
        async def guard(request: Request) -> Any:
            _store_down.set(False)
            if request.method != "POST":
                return None
            if not self.authorized(request):
                return response.json({"error": "unauthorized"}, status=401)
            refused = bad_request(request)
            if refused is not None:
                return refused
            sender, text = request.json["sender"], request.json["message"]
            if len(text) > MAX_MESSAGE_CHARS:
                return response.json([{"recipient_id": sender, "text": TOO_LONG_TEXT.format(
                    max=MAX_MESSAGE_CHARS)}], status=413)
            if not await self.rate_limiter.allow(self.name(), sender):
                return response.json([{"recipient_id": sender, "text": RATE_LIMITED_TEXT}],
                                     status=429)
            return None

        return webhook


def bad_request(request: Request) -> HTTPResponse | None:
    """The 400 answer for a body the webhook cannot take, None when it can."""
    try:
        body = request.json
    except InvalidUsage:
        body = None
    if not isinstance(body, dict):
        return refuse("bad_request", "the body must be a JSON object")
    sender = body.get("sender")
    if not isinstance(sender, str) or not SENDER_ID.fullmatch(sender):
        return refuse("invalid_sender", SENDER_RULE)
    if not isinstance(body.get("message"), str):
        return refuse("bad_request", '"message" must be a string')
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        return refuse("bad_request", '"metadata" must be a JSON object')
    return None


def refuse(error: str, detail: str) -> HTTPResponse:
    return response.json({"error": error, "detail": detail}, status=400)
