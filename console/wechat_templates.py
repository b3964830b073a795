"""WeChat template messages for notices to the merchant (issue 22, item 3): a notice
whose 48-hour customer-service window has closed goes as a template message.

- ``GET {api_base}/cgi-bin/token?grant_type=client_credential&appid=..&secret=..``
- ``POST {api_base}/cgi-bin/message/template/send?access_token=..``

The access token is handled as the WeChat channel does (addons.channels.wechat_api,
which the console may not import): cached until shortly before it expires, and a
rejected token (40001, 40014, 42001) is dropped and the call retried once with a fresh
one. The console keeps its own token: WeChat keeps the previous token valid for a few
minutes after a refresh, and either side refreshes once when its token is refused.
``WeChatApi`` holds that token and the HTTP session; one-time subscription messages
(console.wechat_subscribe) use it too.

Settings (environment, as the channel's): ``WECHAT_NOTICE_TEMPLATE_ID`` (unset: no
template messages), ``WECHAT_APP_ID``, ``WECHAT_APP_SECRET``, ``WECHAT_API_BASE`` and
``WECHAT_NOTICE_TEMPLATE_FIELDS`` (which template key carries which value).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com"
TOKEN_EXPIRY_MARGIN_S = 300
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# The template's keys for the values of core.db.notices.template_values (classic
# "first / keyword1… / remark" templates); WECHAT_NOTICE_TEMPLATE_FIELDS replaces them,
# e.g. "appeal_id=character_string1,result=phrase2,phrase=thing3" (unnamed values are
# not sent).
DEFAULT_FIELDS = {"head": "first", "appeal_id": "keyword1", "result": "keyword2",
                  "phrase": "keyword3", "note": "remark"}
VALUE_NAMES = frozenset(DEFAULT_FIELDS)

# Errors with a meaning of their own (console.notices decides what each one does).
USER_REFUSED = 43101  # the user turned off (or never allowed) this account's messages
INVALID_TEMPLATE = 40037  # the template id is not one of this account's templates
OVER_QUOTA = 45009  # the daily quota of this API is used up
SYSTEM_BUSY = -1  # WeChat is busy: try again shortly


class TemplateError(RuntimeError):
    """WeChat answered with a non-zero errcode (``errcode`` None: not reached, or the
    answer was lost: the message may have gone)."""

    def __init__(self, errcode: int | None, errmsg: str, code: str | None = None,
                 api: str = "message/template/send") -> None:
        super().__init__(f"WeChat {api} failed: errcode={errcode} errmsg={errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self._code = code

    @property
    def code(self) -> str:
        """What appeal_notices.errors records: the errcode, "timeout" or "config"."""
        if self._code:
            return self._code
        return "timeout" if self.errcode is None else str(self.errcode)


def parse_fields(raw: str) -> dict[str, str]:
    """``name=key,name=key`` → {name: key}; ValueError for an unknown name."""
    fields: dict[str, str] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, _, key = (s.strip() for s in item.partition("="))
        if name not in VALUE_NAMES or not key:
            raise ValueError(f"WECHAT_NOTICE_TEMPLATE_FIELDS: {item!r}: expected one of "
                             f"{', '.join(sorted(VALUE_NAMES))} = a template key")
        fields[name] = key
    return fields


@dataclass(frozen=True)
class TemplateSettings:
    template_id: str
    app_id: str
    app_secret: str
    api_base: str = DEFAULT_API_BASE
    fields: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELDS))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> TemplateSettings | None:
        """None without WECHAT_NOTICE_TEMPLATE_ID (notices then wait for the window)."""
        env = dict(os.environ if env is None else env)
        template_id = env.get("WECHAT_NOTICE_TEMPLATE_ID", "").strip()
        if not template_id:
            return None
        raw_fields = env.get("WECHAT_NOTICE_TEMPLATE_FIELDS", "").strip()
        return cls(template_id, env.get("WECHAT_APP_ID", "").strip(),
                   env.get("WECHAT_APP_SECRET", "").strip(),
                   (env.get("WECHAT_API_BASE", "").strip() or DEFAULT_API_BASE).rstrip("/"),
                   parse_fields(raw_fields) if raw_fields else dict(DEFAULT_FIELDS))


class WeChatApi:
    """The official account's server API with its access token: cached until shortly
    before it expires, dropped and fetched again once when WeChat refuses it.
    Thread-safe (the worker runs in a thread); also used for one-time subscription
    messages (console.wechat_subscribe)."""

    def __init__(self, app_id: str, app_secret: str, api_base: str = DEFAULT_API_BASE,
                 timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self.api_base = api_base.rstrip("/")
        self._http = httpx.Client(timeout=timeout_s, transport=transport)
        self._clock = clock
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None  # (token, valid until)

    def close(self) -> None:
        self._http.close()

    def request_json(self, method: str, path: str, params: dict[str, str],
                     body: dict[str, Any] | None = None, api: str = "") -> dict[str, Any]:
        """WeChat's JSON answer; TemplateError(None, …) when it did not arrive."""
        api = api or path.strip("/")
        try:
            response = self._http.request(method, f"{self.api_base}{path}",
                                          params=params, json=body)
            if response.status_code != 200:
                raise TemplateError(None, f"HTTP {response.status_code}", api=api)
            # WeChat labels its JSON as text/plain.
            result = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise TemplateError(None, type(error).__name__, api=api) from error
        if not isinstance(result, dict):
            raise TemplateError(None, "unexpected response", api=api)
        return result

    def access_token(self) -> str:
        with self._lock:
            if self._token and self._clock() < self._token[1]:
                return self._token[0]
            if not (self.app_id and self.app_secret):
                raise TemplateError(None, "WECHAT_APP_ID / WECHAT_APP_SECRET not set",
                                    code="config")
            result = self.request_json("GET", "/cgi-bin/token", {
                "grant_type": "client_credential", "appid": self.app_id,
                "secret": self.app_secret})
            token = result.get("access_token")
            if not token:
                raise TemplateError(int(result.get("errcode") or 0),
                                    f"token: {result.get('errmsg', '')}", api="cgi-bin/token")
            ttl = max(30, int(result.get("expires_in") or 7200) - TOKEN_EXPIRY_MARGIN_S)
            self._token = (str(token), self._clock() + ttl)
            logger.info("notices: wechat access token refreshed (valid %ss)", ttl)
            return str(token)

    def _drop_token(self, token: str) -> None:
        with self._lock:
            if self._token and self._token[0] == token:
                self._token = None

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POSTs ``body`` with the access token (refreshed once if refused); WeChat's
        answer when errcode is 0, TemplateError for every refusal."""
        for attempt in (1, 2):
            token = self.access_token()
            result = self.request_json("POST", path, {"access_token": token}, body)
            errcode = int(result.get("errcode") or 0)
            if errcode == 0:
                return result
            if errcode in TOKEN_ERRORS and attempt == 1:
                logger.warning("notices: wechat rejected the access token (%s): refreshing "
                               "once", errcode)
                self._drop_token(token)
                continue
            raise TemplateError(errcode, str(result.get("errmsg", "")), api=path.strip("/"))
        raise AssertionError("unreachable")  # pragma: no cover


class TemplateSender:
    """Sends template messages; thread-safe (the worker runs in a thread)."""

    def __init__(self, settings: TemplateSettings, timeout_s: float = 10.0,
                 transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.api = WeChatApi(settings.app_id, settings.app_secret, settings.api_base,
                             timeout_s, transport, clock)

    def close(self) -> None:
        self.api.close()

    def access_token(self) -> str:
        return self.api.access_token()

    def body(self, openid: str, values: dict[str, str], client_msg_id: str) -> dict[str, Any]:
        data = {key: {"value": values[name]} for name, key in self.settings.fields.items()
                if name in values}
        # client_msg_id: WeChat sends one message per openid + id (for 10 minutes), so a
        # retry after a lost answer does not arrive twice.
        return {"touser": openid, "template_id": self.settings.template_id, "data": data,
                "client_msg_id": client_msg_id}

    def send(self, openid: str, values: dict[str, str], client_msg_id: str) -> str:
        """WeChat's msgid; TemplateError for every refusal."""
        result = self.api.post("/cgi-bin/message/template/send",
                               self.body(openid, values, client_msg_id))
        return str(result.get("msgid", ""))
