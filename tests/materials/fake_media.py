"""The fake WeChat API of tests/wechat (``WECHAT_API_BASE``) with the media download:
``GET /cgi-bin/media/get?access_token=…&media_id=…`` answers the file's bytes, or JSON
``{"errcode": 40007}`` for a MediaId it does not have (also: older than 3 days).

Outages, switched on and off by a test: ``media_down_status`` (the media API answers that
HTTP status, as a proxy in front of a broken WeChat does), ``media_errcode`` (it answers
that errcode, e.g. -1 "system busy"), ``send_errcode`` (the customer-service API does)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.wechat.fake_wechat import FakeWeChat


@dataclass
class FakeWeChatMedia(FakeWeChat):
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    media_calls: list[dict[str, str]] = field(default_factory=list)
    media_down_status: int = 0
    media_errcode: int = 0
    send_errcode: int = 0

    def start(self) -> FakeWeChatMedia:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, body: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/cgi-bin/token":
                    self._send(json.dumps(fake.token(query)).encode(), "text/plain")
                elif url.path == "/cgi-bin/media/get":
                    body, content_type = fake.get_media(query)
                    if fake.media_down_status:
                        self.send_error(fake.media_down_status)
                        return
                    self._send(body, content_type)
                else:
                    self.send_error(404)

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length).decode("utf-8"))
                if url.path != "/cgi-bin/message/custom/send":
                    self.send_error(404)
                    return
                answer = fake.custom_send(query.get("access_token", ""), body)
                self._send(json.dumps(answer).encode(), "text/plain")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def custom_send(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.send_errcode:
            with self._lock:
                self.send_attempts += 1
            return {"errcode": self.send_errcode, "errmsg": "system error"}
        return super().custom_send(token, body)

    def get_media(self, query: dict[str, str]) -> tuple[bytes, str]:
        with self._lock:
            self.media_calls.append(query)
            if self.media_errcode:
                return (json.dumps({"errcode": self.media_errcode,
                                    "errmsg": "system error"}).encode(), "application/json")
            token = query.get("access_token", "")
            if not token.startswith("TOKEN-") or token in self.revoked_tokens:
                return (json.dumps({"errcode": 40001, "errmsg": "invalid credential"}).encode(),
                        "application/json")
            found = self.media.get(query.get("media_id", ""))
        if found is None:
            return (json.dumps({"errcode": 40007, "errmsg": "invalid media_id"}).encode(),
                    "application/json")
        return found
