"""Helpers shared by the WeChat tests: the send script's builders, a fake bot, signed posts."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

from rasa.core.channels.channel import UserMessage

from addons.channels.wechat import WeChatInput, WeChatResponse
from tests.conftest import PROJECT_ROOT


def _load_script() -> ModuleType:
    # scripts/ is not a package: load the script by path, so the tests exercise it too.
    spec = importlib.util.spec_from_file_location(
        "wechat_send", PROJECT_ROOT / "scripts" / "wechat_send.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wechat_send = _load_script()

TOKEN = "test-wechat-token"
APP_ID = "wx0123456789abcdef"
# A valid EncodingAESKey: 32 bytes, base64 without the trailing "=" (43 characters).
AES_KEY = base64.b64encode(b"merchant-support-wechat-aes-key!").decode().rstrip("=")
assert len(AES_KEY) == 43


def openid() -> str:
    return f"o-test-{uuid.uuid4().hex[:12]}"


Replies = Callable[[str], list[dict[str, Any]]]


class FakeBot:
    """Stands in for ``agent.handle_message``: records messages, answers after ``delay``."""

    def __init__(self, replies: Replies | None = None, delay: float = 0.0,
                 error: Exception | None = None) -> None:
        self.replies: Replies = replies or (lambda text: [{"text": f"收到：{text}"}])
        self.delay = delay
        self.error = error
        self.calls: list[UserMessage] = []

    @property
    def texts(self) -> list[str]:
        return [message.text or "" for message in self.calls]

    async def __call__(self, message: UserMessage) -> None:
        self.calls.append(message)
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        for reply in self.replies(message.text or ""):
            await message.output_channel.send_response(message.sender_id, dict(reply))


class GatedBot(FakeBot):
    """A bot that answers only once the test opens ``gate``; ``started`` is set when called.

    Makes "the bot is still answering" a state the test controls, not a race against time.
    """

    def __init__(self, replies: Replies | None = None) -> None:
        super().__init__(replies)
        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    async def __call__(self, message: UserMessage) -> None:
        self.calls.append(message)
        self.started.set()
        await self.gate.wait()
        for reply in self.replies(message.text or ""):
            await message.output_channel.send_response(message.sender_id, dict(reply))


async def post(
    channel: WeChatInput,
    bot: FakeBot,
    xml: str,
    aes: bool = False,
    token: str = TOKEN,
    **signing: Any,
) -> WeChatResponse:
    query, body = wechat_send.signed_request(
        xml, token, AES_KEY if aes else "", APP_ID if aes else "", **signing
    )
    return await channel.handle_post(query, body, bot)


def content(response: WeChatResponse, aes: bool = False) -> str | None:
    """The passive reply's text; None for ``success``."""
    assert response.status == 200, response.body
    if response.body == "success":
        return None
    xml = wechat_send.decode_reply(response.body, TOKEN, AES_KEY, APP_ID) if aes else response.body
    return wechat_send.reply_field(xml)
