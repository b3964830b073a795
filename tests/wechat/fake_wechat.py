"""A local stand-in for api.weixin.qq.com: access tokens, customer-service messages,
template messages, and the one-time subscription flow (OAuth snsapi_base codes, the
subscribe confirm page as a helper, one-time subscription messages).

Runs an ``http.server`` on 127.0.0.1 in a thread, so it serves the rasa subprocess and
in-process tests alike, and records every call for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse


@dataclass
class SentMessage:
    touser: str
    content: str
    access_token: str
    raw: dict[str, Any]


@dataclass
class SentTemplate:
    touser: str
    template_id: str
    data: dict[str, str]  # key → value
    access_token: str
    msgid: int
    raw: dict[str, Any]


@dataclass
class SentSubscription:
    touser: str
    template_id: str
    scene: str
    title: str
    content: str
    access_token: str
    raw: dict[str, Any]


@dataclass
class FakeWeChat:
    app_id: str = ""
    app_secret: str = ""
    expires_in: int = 7200
    token_errcode: int = 0
    # Tokens answered with 40001 (as if another client had refreshed them away).
    revoked_tokens: set[str] = field(default_factory=set)
    # OpenIDs whose 48-hour window is closed (45015).
    closed_windows: set[str] = field(default_factory=set)
    token_calls: int = 0
    sent: list[SentMessage] = field(default_factory=list)
    send_attempts: int = 0
    # Template messages: the account's template ids (others: 40037), OpenIDs that
    # refused this account's messages (43101), and errcodes answered to the next calls
    # (e.g. [45009], [-1]).
    template_ids: set[str] = field(default_factory=lambda: {"TPL-APPEAL-RESULT"})
    refused_templates: set[str] = field(default_factory=set)
    template_errcodes: list[int] = field(default_factory=list)
    templates: list[SentTemplate] = field(default_factory=list)
    template_attempts: int = 0
    # One-time subscriptions: OAuth codes (code → openid, single use), authorizations
    # given on the confirm page ((openid, template_id, scene) → how many messages), the
    # messages sent and errcodes answered to the next subscribe calls.
    oauth_codes: dict[str, str] = field(default_factory=dict)
    oauth_calls: int = 0
    authorizations: dict[tuple[str, str, str], int] = field(default_factory=dict)
    subscriptions: list[SentSubscription] = field(default_factory=list)
    subscribe_attempts: int = 0
    subscribe_errcodes: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeWeChat:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet test output
                return None

            def _json(self, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                # Like WeChat: JSON labelled as text/plain.
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/sns/oauth2/access_token":
                    self._json(fake.oauth_access_token(query))
                    return
                if url.path != "/cgi-bin/token":
                    self.send_error(404)
                    return
                self._json(fake.token(query))

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length).decode("utf-8"))
                if url.path == "/cgi-bin/message/template/subscribe":
                    self._json(fake.subscribe_send(query.get("access_token", ""), body))
                    return
                if url.path == "/cgi-bin/message/template/send":
                    self._json(fake.template_send(query.get("access_token", ""), body))
                    return
                if url.path != "/cgi-bin/message/custom/send":
                    self.send_error(404)
                    return
                self._json(fake.custom_send(query.get("access_token", ""), body))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- behaviour ---------------------------------------------------------------------
    def token(self, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.token_calls += 1
            if self.token_errcode:
                return {"errcode": self.token_errcode, "errmsg": "invalid appsecret"}
            if query.get("grant_type") != "client_credential" or (
                self.app_id and (query.get("appid"), query.get("secret"))
                != (self.app_id, self.app_secret)
            ):
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            return {"access_token": f"TOKEN-{self.token_calls}", "expires_in": self.expires_in}

    def custom_send(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.send_attempts += 1
            if not token.startswith("TOKEN-") or token in self.revoked_tokens:
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            if body.get("touser") in self.closed_windows:
                return {"errcode": 45015, "errmsg": "response out of time limit"}
            self.sent.append(SentMessage(
                body.get("touser", ""), body.get("text", {}).get("content", ""), token, body,
            ))
            return {"errcode": 0, "errmsg": "ok"}

    def template_send(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.template_attempts += 1
            if not token.startswith("TOKEN-") or token in self.revoked_tokens:
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            if self.template_errcodes:
                errcode = self.template_errcodes.pop(0)
                errmsg = {45009: "reach max api daily quota limit",
                          -1: "system error"}.get(errcode, "error")
                return {"errcode": errcode, "errmsg": errmsg}
            if body.get("template_id") not in self.template_ids:
                return {"errcode": 40037, "errmsg": "invalid template_id"}
            touser = body.get("touser", "")
            if touser in self.refused_templates:
                return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
            # Like WeChat: one message per openid + client_msg_id.
            client_msg_id = body.get("client_msg_id")
            for earlier in self.templates:
                if client_msg_id and earlier.touser == touser \
                        and earlier.raw.get("client_msg_id") == client_msg_id:
                    return {"errcode": 0, "errmsg": "ok", "msgid": earlier.msgid}
            msgid = 200228000 + len(self.templates) + 1
            data = {key: str((item or {}).get("value", ""))
                    for key, item in (body.get("data") or {}).items()}
            self.templates.append(SentTemplate(touser, str(body.get("template_id")), data,
                                               token, msgid, body))
            return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    # --- one-time subscriptions -------------------------------------------------------
    def authorize(self, url: str, openid: str) -> str:
        """The user opens WeChat's OAuth page (snsapi_base: no prompt): the URL WeChat
        sends them back to, with a new code and the state unchanged."""
        parsed = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        assert (parsed.scheme, parsed.netloc, parsed.path) == (
            "https", "open.weixin.qq.com", "/connect/oauth2/authorize"), url
        assert parsed.fragment == "wechat_redirect", url
        assert list(query) == ["appid", "redirect_uri", "response_type", "scope", "state"]
        assert (query["response_type"], query["scope"]) == ("code", "snsapi_base")
        assert not self.app_id or query["appid"] == self.app_id
        state = query["state"]
        assert state.isalnum() and len(state.encode()) <= 128, state
        with self._lock:
            code = f"CODE{len(self.oauth_codes) + 1:04d}"
            self.oauth_codes[code] = openid
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': state})}"

    def confirm(self, url: str, openid: str, action: str = "confirm") -> str:
        """The user answers the one-time subscribe page (``confirm`` or ``cancel``): the
        URL WeChat sends them back to."""
        parsed = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        assert (parsed.scheme, parsed.netloc, parsed.path) == (
            "https", "mp.weixin.qq.com", "/mp/subscribemsg"), url
        assert parsed.fragment == "wechat_redirect", url
        assert query["action"] == "get_confirm"
        assert not self.app_id or query["appid"] == self.app_id
        scene = query["scene"]
        assert scene.isdigit() and 0 <= int(scene) <= 10000
        reserved = query["reserved"]
        assert reserved.isalnum() and len(reserved.encode()) <= 128, reserved
        if action == "confirm":
            key = (openid, query["template_id"], scene)
            with self._lock:
                self.authorizations[key] = self.authorizations.get(key, 0) + 1
        back = {"openid": openid, "template_id": query["template_id"], "action": action,
                "scene": scene, "reserved": reserved}
        return f"{query['redirect_url']}?{urlencode(back)}"

    def oauth_access_token(self, query: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.oauth_calls += 1
            if query.get("grant_type") != "authorization_code" or (
                self.app_id and (query.get("appid"), query.get("secret"))
                != (self.app_id, self.app_secret)
            ):
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            openid = self.oauth_codes.pop(query.get("code", ""), None)
            if openid is None:  # unknown, or used before (codes are single use)
                return {"errcode": 40029, "errmsg": "invalid code"}
            return {"access_token": "WEB-TOKEN", "expires_in": 7200,
                    "refresh_token": "WEB-REFRESH", "openid": openid, "scope": "snsapi_base"}

    def subscribe_send(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.subscribe_attempts += 1
            if not token.startswith("TOKEN-") or token in self.revoked_tokens:
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            if self.subscribe_errcodes:
                errcode = self.subscribe_errcodes.pop(0)
                return {"errcode": errcode, "errmsg": "error"}
            if body.get("template_id") not in self.template_ids:
                return {"errcode": 40037, "errmsg": "invalid template_id"}
            touser = str(body.get("touser", ""))
            key = (touser, str(body.get("template_id")), str(body.get("scene")))
            if self.authorizations.get(key, 0) < 1:  # no (more) consent: one per message
                return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
            self.authorizations[key] -= 1
            content = str(((body.get("data") or {}).get("content") or {}).get("value", ""))
            self.subscriptions.append(SentSubscription(
                touser, key[1], key[2], str(body.get("title", "")), content, token, body))
            return {"errcode": 0, "errmsg": "ok"}

    # --- assertions ----------------------------------------------------------------------
    def sent_to(self, openid: str) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if m.touser == openid]

    def wait_for(self, openid: str, count: int, timeout: float = 30) -> list[SentMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.sent_to(openid)
            if len(messages) >= count:
                return messages
            time.sleep(0.05)
        return self.sent_to(openid)
