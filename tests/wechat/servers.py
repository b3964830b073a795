"""The WeChat channels of the session's shared stack (tests/stack.py), for the
end-to-end tests: their credentials and a client for them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from tests.wechat.client import AES_KEY, APP_ID, TOKEN, wechat_send
from tests.wechat.fake_wechat import FakeWeChat

if TYPE_CHECKING:
    from tests.stack import SharedStack

API_TOKEN = "wechat-e2e-api-token"
APP_SECRET = "e2e-app-secret"
SLOW_APP_ID = "wx00000000000000slow"


def credentials(api_base: str) -> str:
    # The main channel in plaintext mode; encrypted pushes go to ``wechat_aes`` (compatible
    # mode takes encrypted pushes only).
    return f"""\
addons.channels.rest.RestInput:
addons.channels.wechat.WeChatInput:
  token: {TOKEN}
  app_id: {APP_ID}
  app_secret: {APP_SECRET}
  api_base: {api_base}
  reply_timeout_s: 4.0
tests.wechat.aes_channel.AesWeChatInput:
  token: {TOKEN}
  app_id: {APP_ID}
  app_secret: {APP_SECRET}
  encoding_aes_key: {AES_KEY}
  mode: compatible
  api_base: {api_base}
  reply_timeout_s: 4.0
tests.wechat.slow_channel.SlowWeChatInput:
  token: {TOKEN}
  app_id: {SLOW_APP_ID}
  app_secret: {APP_SECRET}
  api_base: {api_base}
  reply_timeout_s: 0.05
"""


@dataclass
class WeChatServers:
    rasa_url: str
    fake: FakeWeChat
    logs: dict[str, Path]
    token: str = API_TOKEN

    def url(self, channel: str = "wechat") -> str:
        return f"{self.rasa_url}/webhooks/{channel}/webhook"

    def post(self, xml: str, aes: bool = False, channel: str | None = None,
             **signing: Any) -> tuple[int, str]:
        query, body = wechat_send.signed_request(
            xml, TOKEN, AES_KEY if aes else "", APP_ID if aes else "", **signing
        )
        return self.post_raw(query, body, channel or ("wechat_aes" if aes else "wechat"))

    def post_raw(self, query: dict[str, str], body: bytes,
                 channel: str = "wechat") -> tuple[int, str]:
        response = requests.post(self.url(channel), params=query, data=body, timeout=30,
                                 headers={"Content-Type": "text/xml"})
        return response.status_code, response.text

    def reply(self, xml: str, aes: bool = False) -> str:
        """The passive reply's Content (fails on anything but a 200 text reply)."""
        status, body = self.post(xml, aes=aes)
        assert status == 200, body
        if aes:
            assert "<Encrypt>" in body, body
            body = wechat_send.decode_reply(body, TOKEN, AES_KEY, APP_ID)
        text = wechat_send.reply_field(body)
        assert text, f"no text reply: {body!r}"
        return text

    def tracker(self, sender: str) -> dict[str, Any]:
        response = requests.get(f"{self.rasa_url}/conversations/{sender}/tracker",
                                params={"token": self.token}, timeout=10)
        response.raise_for_status()
        return response.json()

    def user_events(self, sender: str) -> list[dict[str, Any]]:
        return [e for e in self.tracker(sender).get("events", []) if e.get("event") == "user"]

    def log_tails(self, chars: int = 6000) -> dict[str, str]:
        return {name: path.read_text(errors="replace")[-chars:] for name, path in
                self.logs.items() if path.exists()}


def wechat_view(stack: SharedStack) -> WeChatServers:
    """The shared stack seen by the WeChat tests."""
    return WeChatServers(stack.servers.rasa_url, stack.fake_wechat, stack.servers.logs,
                         stack.servers.token)
