"""The two WeChat server APIs the channel calls: access token and customer-service message.

- ``GET {api_base}/cgi-bin/token?grant_type=client_credential&appid=..&secret=..``
- ``POST {api_base}/cgi-bin/message/custom/send?access_token=..``

The token is cached in the channel state (shared through Redis when configured) until
shortly before it expires. WeChat keeps the previous token valid for a few minutes after
a refresh, so two replicas refreshing at once do no harm; a refresh lock only avoids
needless calls against the daily token quota.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from addons.channels.wechat_loops import PerLoop
from addons.channels.wechat_store import ChannelState

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com"
# Refresh this long before WeChat's expiry so a token never dies in flight.
TOKEN_EXPIRY_MARGIN_S = 300
# access_token invalid (40001), not a valid token (40014), access_token expired (42001).
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# The user has not written for 48 hours: customer-service messages are refused.
WINDOW_EXPIRED = 45015


class WeChatApiError(RuntimeError):
    """WeChat answered with a non-zero errcode (or could not be reached: errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str, call: str) -> None:
        super().__init__(f"WeChat {call} failed: errcode={errcode} errmsg={errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.call = call


class WeChatWindowExpired(WeChatApiError):
    """45015: the 48-hour customer-service window is closed for this user."""


class WeChatApi:
    def __init__(
        self,
        app_id: str,
        app_secret: str,
        state: ChannelState,
        api_base: str = DEFAULT_API_BASE,
        timeout_s: float = 5.0,
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.state = state
        self.api_base = api_base.rstrip("/")
        self.timeout_s = timeout_s
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        # One session (and so one connection pool) per process and event loop.
        self._sessions: PerLoop[aiohttp.ClientSession] = PerLoop(
            lambda: aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s)),
            lambda session: session.close(),
            "WeChat API session",
            usable=lambda session: not session.closed,
        )

    @property
    def configured(self) -> bool:
        return bool(self.app_id and self.app_secret)

    async def close(self) -> None:
        """Close the HTTP session (server stop); the next call opens a new one."""
        await self._sessions.close()

    def _lock(self) -> asyncio.Lock:
        # One refresh at a time per process; asyncio locks belong to one event loop.
        loop = asyncio.get_running_loop()
        return self._locks.setdefault(loop, asyncio.Lock())

    async def _request(
        self, method: str, path: str, params: dict[str, str], body: bytes | None, call: str
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json; charset=utf-8"} if body else None
        try:
            async with self._sessions.get().request(
                method, f"{self.api_base}{path}", params=params, data=body, headers=headers
            ) as response:
                if response.status != 200:
                    raise WeChatApiError(None, f"HTTP {response.status}", call)
                # WeChat often labels its JSON as text/plain.
                result = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise WeChatApiError(None, f"{type(error).__name__}: {error}", call) from error
        if not isinstance(result, dict):
            raise WeChatApiError(None, "unexpected response", call)
        return result

    async def _fetch_token(self) -> str:
        result = await self._request(
            "GET",
            "/cgi-bin/token",
            {"grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret},
            None,
            "token",
        )
        token = result.get("access_token")
        if not token:
            raise WeChatApiError(result.get("errcode"), str(result.get("errmsg", "")), "token")
        expires_in = int(result.get("expires_in") or 7200)
        ttl = max(30, expires_in - TOKEN_EXPIRY_MARGIN_S)
        await self.state.set_access_token(self.app_id, str(token), ttl)
        logger.info("wechat access token refreshed (valid %ss)", ttl)
        return str(token)

    async def access_token(self) -> str:
        if not self.configured:
            raise WeChatApiError(None, "app_id / app_secret not configured", "token")
        token = await self.state.access_token(self.app_id)
        if token:
            return token
        async with self._lock():
            token = await self.state.access_token(self.app_id)
            if token:
                return token
            refresh_key = f"{self.state.namespace}:token-refresh:{self.app_id}"
            if not await self.state.store.claim(refresh_key, "1", self.timeout_s * 2):
                # Another replica is refreshing: use its token when it lands.
                for _ in range(int(self.timeout_s / 0.1)):
                    await asyncio.sleep(0.1)
                    token = await self.state.access_token(self.app_id)
                    if token:
                        return token
            try:
                return await self._fetch_token()
            finally:
                await self.state.store.delete(refresh_key)

    async def send_text(self, openid: str, content: str) -> None:
        """Send one text (already split to WeChat's limit) through the customer-service API.

        A rejected token is dropped and the call retried once with a fresh one; every
        other error (45015 window closed, quota, network) is raised to the caller.
        """
        body = json.dumps(
            {"touser": openid, "msgtype": "text", "text": {"content": content}},
            ensure_ascii=False,
        ).encode("utf-8")
        try:
            await self._send_custom(body)
        except WeChatApiError as error:
            logger.error("wechat customer-service message to %s failed: %s", openid, error)
            raise

    async def _send_custom(self, body: bytes) -> None:
        for attempt in (1, 2):
            token = await self.access_token()
            result = await self._request(
                "POST", "/cgi-bin/message/custom/send", {"access_token": token}, body,
                "message/custom/send",
            )
            errcode = int(result.get("errcode") or 0)
            if errcode == 0:
                return
            if errcode in TOKEN_ERRORS and attempt == 1:
                logger.warning("wechat rejected the access token (%s): refreshing once", errcode)
                await self.state.drop_access_token(self.app_id, token)
                continue
            error_class = WeChatWindowExpired if errcode == WINDOW_EXPIRED else WeChatApiError
            raise error_class(errcode, str(result.get("errmsg", "")), "message/custom/send")
