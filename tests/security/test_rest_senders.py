"""REST sender ids and request bodies (issue 25, Medium 4).

- A request without ``sender`` went to Rasa's shared ``default`` conversation, with the
  identity verified in it: a sender is now required.
- Sender ids had no length limit and any characters; ids with spaces, ``%`` or non-ASCII
  cannot be named in a rasa HTTP API path (Rasa 3.6's Sanic does not percent-decode the
  conversation id), so the console read and delivered to *another* conversation.
- Malformed bodies answered 500: now 400 with a JSON error, and nothing reaches the bot.

The channel runs in-process, mounted the way rasa mounts it, with a stand-in agent.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic, response
from sanic.request import Request

from addons.channels.rate_limit import RATE_LIMITED_TEXT, RateLimiter
from addons.channels.rest import RestInput
from console.rasa_client import RasaClient, RasaError

# Several Sanic apps start in this process (as in tests/dialogue/test_store_down.py).
Sanic.test_mode = True

WEBHOOK = "/webhooks/rest/webhook"


class Bot:
    """Stands in for ``agent.handle_message``: records each turn and answers "ok"."""

    def __init__(self) -> None:
        self.turns: list[tuple[str, str]] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.turns.append((message.sender_id, message.text))
        await message.output_channel.send_text_message(message.sender_id, "ok")


@pytest.fixture()
async def rest() -> AsyncIterator[tuple[httpx.AsyncClient, Bot, RestInput]]:
    bot = Bot()
    channel = RestInput()
    app = Sanic(f"rest_senders_{uuid.uuid4().hex[:12]}")
    app.ctx.agent = SimpleNamespace(handle_message=bot.handle_message)
    register([channel], app, "/webhooks/")
    await app._startup()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rasa",
                               timeout=30)
    try:
        yield client, bot, channel
    finally:
        await client.aclose()
        await channel.rate_limiter.close()


def assert_refused(answer: httpx.Response, bot: Bot, error: str) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == error and body["detail"], body
    assert bot.turns == []  # nothing reached the bot


async def test_a_request_without_sender_is_refused_not_put_in_a_shared_conversation(
    rest: Any,
) -> None:
    client, bot, _ = rest
    for _ in range(2):  # two different callers, neither names itself
        assert_refused(await client.post(WEBHOOK, json={"message": "查账户"}), bot,
                       "invalid_sender")


@pytest.mark.parametrize("sender", [
    "", "a b", "shop%201", "商户", "a/b", "a\nb", "x" * 65, 42, None, ["a"],
    {"id": "a"},
])
async def test_sender_ids_that_cannot_be_named_in_a_path_or_are_too_long_are_refused(
    rest: Any, sender: Any,
) -> None:
    client, bot, _ = rest
    answer = await client.post(WEBHOOK, json={"sender": sender, "message": "查账户"})
    assert_refused(answer, bot, "invalid_sender")


@pytest.mark.parametrize("sender", ["u1", "shop-1.a_b:c@d", "x" * 64, "oWx_9-AbC"])
async def test_valid_sender_ids_reach_the_bot_as_rest_conversations(
    rest: Any, sender: str,
) -> None:
    client, bot, _ = rest
    answer = await client.post(WEBHOOK, json={"sender": sender, "message": "查账户"})
    assert answer.status_code == 200
    assert answer.json() == [{"recipient_id": f"rest:{sender}", "text": "ok"}]
    assert bot.turns == [(f"rest:{sender}", "查账户")]


@pytest.mark.parametrize("content", [
    b"{not json", b"", b"[]", b'"hello"', b"42", b"null",
    b'{"sender": "u1"}',  # no message
    b'{"sender": "u1", "message": 42}',
    b'{"sender": "u1", "message": null}',
    b'{"sender": "u1", "message": ["a"]}',
    b'{"sender": "u1", "message": "hi", "metadata": "x"}',
    b'{"sender": "u1", "message": "hi", "metadata": [1]}',
])
async def test_malformed_bodies_answer_400_not_500(rest: Any, content: bytes) -> None:
    client, bot, _ = rest
    answer = await client.post(WEBHOOK, content=content,
                               headers={"Content-Type": "application/json"})
    assert_refused(answer, bot, "bad_request")


async def test_the_limits_still_answer_politely_in_the_usual_shape(rest: Any) -> None:
    client, bot, channel = rest
    channel.rate_limiter = RateLimiter(limit=1, window_s=60)
    body = {"sender": "calm-1", "message": "查账户", "metadata": {"k": "v"}}
    assert (await client.post(WEBHOOK, json=body)).status_code == 200
    limited = await client.post(WEBHOOK, json=body)
    assert limited.status_code == 429
    assert limited.json() == [{"recipient_id": "calm-1", "text": RATE_LIMITED_TEXT}]
    assert bot.turns == [("rest:calm-1", "查账户")]


# --- the console names conversations in rasa HTTP API paths -------------------------


@pytest.fixture()
async def rasa_like() -> AsyncIterator[str]:
    """A real Sanic server with Rasa 3.6's conversation routes (rasa/server.py): the
    id a route sees is what Sanic hands over, undecoded, as in the real rasa server."""
    app = Sanic(f"rasa_like_{uuid.uuid4().hex[:12]}")

    @app.get("/conversations/<conversation_id:path>/tracker")
    async def tracker(request: Request, conversation_id: str) -> Any:
        return response.json({"sender_id": conversation_id, "events": []})

    @app.post("/conversations/<conversation_id:path>/tracker/events")
    async def append(request: Request, conversation_id: str) -> Any:
        return response.json({"sender_id": conversation_id})

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True,
                                     access_log=False)
    await server.startup()
    await server.start_serving()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("sender_id", ["rest:a b", "rest:a%20b", "rest:商户", "rest:a/b"])
async def test_the_console_never_reads_or_writes_another_conversation(
    rasa_like: str, sender_id: str,
) -> None:
    client = RasaClient(rasa_like, "token")
    try:
        for call in (lambda: client.tracker(sender_id),
                     lambda: client.append_bot_message(sender_id, "rest", "您好", {})):
            try:
                answer = await asyncio.to_thread(call)
            except RasaError:
                continue  # refused: nothing read or written
            assert answer["sender_id"] == sender_id  # or exactly this conversation
    finally:
        client.close()


async def test_the_console_names_valid_rest_conversations_as_they_are(rasa_like: str) -> None:
    client = RasaClient(rasa_like, "token")
    try:
        for sender_id in ("rest:shop-1.a_b:c@d", "oWx_9-AbC", "rest:" + "x" * 64):
            answer = await asyncio.to_thread(client.tracker, sender_id)
            assert answer["sender_id"] == sender_id
    finally:
        client.close()
