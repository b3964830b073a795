"""An agent's side of the console API over real HTTP, with a live event stream."""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import suppress
from typing import Any

import requests

from tests.console.conftest import PASSWORD


class AgentClient:
    def __init__(self, base_url: str, username: str, password: str = PASSWORD) -> None:
        self.base = f"{base_url}/console/api"
        self.http = requests.Session()
        response = self.http.post(f"{self.base}/login",
                                  json={"username": username, "password": password}, timeout=30)
        assert response.status_code == 200, response.text
        self.http.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        self.events: list[dict[str, Any]] = []
        self._stream: requests.Response | None = None
        self._lock = threading.Lock()

    def get(self, path: str) -> Any:
        response = self.http.get(f"{self.base}{path}", timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: Any = None, expect: int = 200) -> Any:
        response = self.http.post(f"{self.base}{path}", json=body, timeout=60)
        assert response.status_code == expect, response.text
        return response.json()

    # --- server-sent events ------------------------------------------------------------
    def listen(self) -> None:
        self._stream = self.http.get(f"{self.base}/stream", stream=True, timeout=(10, 60))
        assert self._stream.status_code == 200
        threading.Thread(target=self._read, daemon=True).start()
        assert self.wait_event(lambda e: e["type"] == "hello", 10)

    def _read(self) -> None:
        kind = None
        try:
            for line in self._stream.iter_lines(decode_unicode=True):
                if line and line.startswith("event: "):
                    kind = line[7:]
                elif line and line.startswith("data: ") and kind:
                    with self._lock:
                        self.events.append({"type": kind, **json.loads(line[6:])})
        except (requests.RequestException, AttributeError, ValueError):
            return

    def wait_event(self, match: Any, timeout: float = 20) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for event in self.events:
                    if match(event):
                        return event
            time.sleep(0.05)
        return None

    def close(self) -> None:
        if self._stream is not None:
            # The reader thread waits in recv for the next keep-alive (up to 15 s), holding
            # the response's buffer: shut the connection down so closing does not wait.
            with suppress(OSError, ValueError), \
                    socket.fromfd(self._stream.raw.fileno(), socket.AF_INET,
                                  socket.SOCK_STREAM) as connection:
                connection.shutdown(socket.SHUT_RDWR)
            self._stream.close()
        self.http.close()
