"""A stand-in for the rasa HTTP API as the console uses it (httpx MockTransport).

It behaves like Rasa 3.6's server.py: an appended bot event is stored only when the
output channel did not raise; a channel error answers 500 with Rasa's error body.
Failure modes are set per test.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx

TOKEN = "fake-rasa-token"


@dataclass
class FakeRasa:
    trackers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Queued behaviours of the next appends: "channel_error" (500, nothing stored),
    # "timeout_after_store" (stored, the answer never arrives), "down" (connect error).
    next_appends: list[str] = field(default_factory=list)
    channel_error: str = ("WeChat message/custom/send failed: errcode=45015 "
                          "errmsg=response out of time limit")
    tracker_down: bool = False
    tracker_failures: int = 0  # the next N tracker reads fail
    trigger_down: bool = False
    appends: list[dict[str, Any]] = field(default_factory=list)  # every attempt
    triggers: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def user_says(self, sender: str, text: str, ts: float | None = None,
                  channel: str = "wechat") -> None:
        with self._lock:
            self.trackers.setdefault(sender, []).append(
                {"event": "user", "text": text, "timestamp": ts or time.time(),
                 "input_channel": channel})

    def bot_events(self, sender: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.trackers.get(sender, []) if e["event"] == "bot"]

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("token") != TOKEN:
            return httpx.Response(401, json={"message": "bad token"})
        parts = request.url.path.split("/")  # /conversations/<id>/<tail...>
        sender = unquote(parts[2])
        tail = "/".join(parts[3:])
        if request.method == "GET" and tail == "tracker":
            with self._lock:
                failing = self.tracker_down or self.tracker_failures > 0
                self.tracker_failures = max(0, self.tracker_failures - 1)
            if failing:
                raise httpx.ConnectError("connection refused", request=request)
            with self._lock:
                events = list(self.trackers.get(sender, []))
            return httpx.Response(200, json={"sender_id": sender, "events": events})
        if request.method == "POST" and tail == "tracker/events":
            return self._append(request, sender)
        if request.method == "POST" and tail == "trigger_intent":
            if self.trigger_down:
                raise httpx.ConnectError("connection refused", request=request)
            body = json.loads(request.content)
            with self._lock:
                self.triggers.append({"sender": sender, **body,
                                      "output_channel": request.url.params.get("output_channel")})
                # As Rasa 3.6 stores it (UserUttered.create_external): a "user" event.
                events = self.trackers.setdefault(sender, [])
                channel = next((e.get("input_channel") for e in reversed(events)
                                if e["event"] == "user"), None)
                events.append({"event": "user", "text": f"EXTERNAL: {body['name']}",
                               "parse_data": {"intent": {"name": body["name"]}},
                               "timestamp": time.time(), "input_channel": channel})
            return httpx.Response(200, json={"tracker": {}, "messages": []})
        return httpx.Response(404, json={"message": "not found"})

    def _append(self, request: httpx.Request, sender: str) -> httpx.Response:
        event = json.loads(request.content)
        with self._lock:
            behaviour = self.next_appends.pop(0) if self.next_appends else "ok"
            self.appends.append({"sender": sender, "event": event, "behaviour": behaviour,
                                 "output_channel": request.url.params.get("output_channel")})
            if behaviour == "down":
                raise httpx.ConnectError("connection refused", request=request)
            if behaviour == "channel_error":
                return httpx.Response(500, json={
                    "version": "3.6.21", "status": "failure", "reason": "ConversationError",
                    "message": f"An unexpected error occurred. Error: {self.channel_error}",
                    "code": 500})
            # Rasa keeps a timestamp the event carries, else stamps it on arrival.
            self.trackers.setdefault(sender, []).append({"timestamp": time.time(), **event})
            if behaviour == "timeout_after_store":
                raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json={"sender_id": sender})
