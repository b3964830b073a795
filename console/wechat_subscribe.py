"""WeChat one-time subscription messages (一次性订阅消息) for appeal notices (issue 22,
item 3): the settings, WeChat's URLs of the consent flow (console.routes.notice_consent)
and the calls to WeChat.

- OAuth ``snsapi_base`` (silent: the merchant sees no prompt):
  ``https://open.weixin.qq.com/connect/oauth2/authorize?…#wechat_redirect``, then
  ``GET {api_base}/sns/oauth2/access_token?appid=..&secret=..&code=..&grant_type=
  authorization_code`` gives the OpenID.
- The subscribe confirm page:
  ``https://mp.weixin.qq.com/mp/subscribemsg?action=get_confirm&…#wechat_redirect``.
- Sending: ``POST {api_base}/cgi-bin/message/template/subscribe?access_token=..`` with
  ``touser``, ``template_id``, ``scene``, ``title`` and ``data.content.value``.

Settings (environment, as the template messages'): ``WECHAT_SUBSCRIBE_TEMPLATE_ID``
(unset: the feature is off), ``WECHAT_SUBSCRIBE_SCENE`` (0-10000, default 1000),
``WECHAT_APP_ID``, ``WECHAT_APP_SECRET``, ``WECHAT_API_BASE`` and ``CONSOLE_PUBLIC_URL``
(the console's https address on the account's 网页授权域名).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from console.wechat_templates import DEFAULT_API_BASE, TemplateError, WeChatApi
from core.notice_tokens import public_url

OAUTH_AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
SUBSCRIBE_CONFIRM_URL = "https://mp.weixin.qq.com/mp/subscribemsg"
DEFAULT_SCENE = 1000
MAX_SCENE = 10000


@dataclass(frozen=True)
class SubscribeSettings:
    template_id: str
    app_id: str
    app_secret: str
    api_base: str = DEFAULT_API_BASE
    scene: int = DEFAULT_SCENE
    public_url: str = ""  # "": the request's own base URL

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> SubscribeSettings | None:
        """None without WECHAT_SUBSCRIBE_TEMPLATE_ID (the feature is off); ValueError
        for a scene outside 0-10000."""
        env = dict(os.environ if env is None else env)
        template_id = env.get("WECHAT_SUBSCRIBE_TEMPLATE_ID", "").strip()
        if not template_id:
            return None
        raw_scene = env.get("WECHAT_SUBSCRIBE_SCENE", "").strip()
        if raw_scene and not (raw_scene.isdigit() and int(raw_scene) <= MAX_SCENE):
            raise ValueError(f"WECHAT_SUBSCRIBE_SCENE must be 0-{MAX_SCENE}, "
                             f"got {raw_scene!r}")
        return cls(template_id, env.get("WECHAT_APP_ID", "").strip(),
                   env.get("WECHAT_APP_SECRET", "").strip(),
                   (env.get("WECHAT_API_BASE", "").strip() or DEFAULT_API_BASE).rstrip("/"),
                   int(raw_scene) if raw_scene else DEFAULT_SCENE, public_url(env))


def authorize_url(settings: SubscribeSettings, redirect_uri: str, state: str) -> str:
    """WeChat's silent OAuth page (snsapi_base); it comes back to ``redirect_uri`` with
    ``code`` and ``state``. The parameters must be in WeChat's documented order."""
    query = urlencode({"appid": settings.app_id, "redirect_uri": redirect_uri,
                       "response_type": "code", "scope": "snsapi_base", "state": state})
    return f"{OAUTH_AUTHORIZE_URL}?{query}#wechat_redirect"


def confirm_url(settings: SubscribeSettings, redirect_url: str, reserved: str) -> str:
    """WeChat's one-time subscribe confirm page; it comes back to ``redirect_url`` with
    ``openid``, ``template_id``, ``action`` (confirm / cancel), ``scene``, ``reserved``."""
    query = urlencode({"action": "get_confirm", "appid": settings.app_id,
                       "scene": str(settings.scene), "template_id": settings.template_id,
                       "redirect_url": redirect_url, "reserved": reserved})
    return f"{SUBSCRIBE_CONFIRM_URL}?{query}#wechat_redirect"


class SubscribeSender:
    """The OAuth code exchange and sending of one-time subscription messages."""

    def __init__(self, settings: SubscribeSettings, timeout_s: float = 10.0,
                 transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.settings = settings
        extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
        self.api = WeChatApi(settings.app_id, settings.app_secret, settings.api_base,
                             timeout_s, transport, **extra)

    def close(self) -> None:
        self.api.close()

    def openid_for_code(self, code: str) -> str:
        """The OpenID of the user who came back from OAuth with ``code`` (single use,
        5 minutes); TemplateError when WeChat refuses it or cannot be reached."""
        if not (self.settings.app_id and self.settings.app_secret):
            raise TemplateError(None, "WECHAT_APP_ID / WECHAT_APP_SECRET not set",
                                code="config", api="sns/oauth2/access_token")
        result = self.api.request_json("GET", "/sns/oauth2/access_token", {
            "appid": self.settings.app_id, "secret": self.settings.app_secret,
            "code": code, "grant_type": "authorization_code"})
        openid = str(result.get("openid") or "")
        if not openid:
            raise TemplateError(int(result.get("errcode") or 0),
                                str(result.get("errmsg", "no openid")),
                                api="sns/oauth2/access_token")
        return openid

    def send(self, openid: str, scene: int, title: str, content: str,
             template_id: str | None = None) -> None:
        """Sends one message under a consent; TemplateError for every refusal."""
        self.api.post("/cgi-bin/message/template/subscribe", {
            "touser": openid, "template_id": template_id or self.settings.template_id,
            "scene": str(scene), "title": title, "data": {"content": {"value": content}}})
