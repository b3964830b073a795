"""The console's only way into conversations: the rasa HTTP API (token auth)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx


class RasaError(Exception):
    """A call to the rasa server failed.

    ``ambiguous`` is True when the request may have been carried out anyway (timeout,
    connection lost after sending): the caller must look at the tracker before retrying.
    """

    def __init__(self, message: str, ambiguous: bool = False,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ambiguous = ambiguous
        self.status = status


PATH_SAFE = ":@!$&'()*+,;=-._~"
_RASA_ERROR_PREFIX = re.compile(r"^An unexpected error occurred\. Error:\s*")


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    message = str(body.get("message") or body.get("reason") or body)
    return _RASA_ERROR_PREFIX.sub("", message)[:500]


class RasaClient:
    def __init__(self, base_url: str, token: str, timeout_s: float = 15.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._client = httpx.Client(timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self._client.close()

    def _url(self, sender_id: str, tail: str) -> str:
        # Rasa's routes do not percent-decode the conversation id (Sanic 21.12), so the
        # characters a path may carry go as they are ("rest:shop-1" stays "rest:shop-1").
        # An id that would need encoding would name another conversation: refused.
        path_id = quote(sender_id, safe=PATH_SAFE)
        if path_id != sender_id:
            raise RasaError("这个会话的编号含有对话服务无法识别的字符，无法读取或发送")
        return f"{self.base_url}/conversations/{path_id}/{tail}"

    def _call(self, method: str, url: str, params: dict[str, str],
              json: Any = None, may_have_happened: bool = False) -> dict[str, Any]:
        params = {**params, "token": self.token}
        try:
            response = self._client.request(method, url, params=params, json=json)
        except httpx.ConnectError as error:
            raise RasaError(f"连不上对话服务：{error}") from error
        except httpx.HTTPError as error:  # timeouts, a connection dropped mid-answer
            raise RasaError(f"对话服务没有及时回应：{type(error).__name__}",
                            ambiguous=may_have_happened) from error
        if response.status_code >= 400:
            raise RasaError(_error_text(response), status=response.status_code)
        return response.json()

    def tracker(self, sender_id: str) -> dict[str, Any]:
        """The whole conversation, every session."""
        return self._call("GET", self._url(sender_id, "tracker"),
                          {"include_events": "ALL"})

    def append_bot_message(self, sender_id: str, channel: str, text: str,
                           metadata: dict[str, Any],
                           timestamp: float | None = None) -> dict[str, Any]:
        """Appends a bot event and sends it through ``channel``'s output channel;
        ``timestamp``: the event's time (default: when rasa receives it).

        Rasa 3.6 (server.py, append_events) sends first and saves the tracker after: if
        the output channel raises, the answer is a 500 and the event is NOT stored.
        """
        event: dict[str, Any] = {"event": "bot", "text": text, "metadata": metadata}
        if timestamp is not None:
            event["timestamp"] = timestamp
        return self._call(
            "POST", self._url(sender_id, "tracker/events"),
            {"execute_side_effects": "true", "output_channel": channel,
             "include_events": "NONE"},
            json=event,
            may_have_happened=True,
        )

    def trigger_intent(self, sender_id: str, channel: str, intent: str) -> dict[str, Any]:
        return self._call(
            "POST", self._url(sender_id, "trigger_intent"),
            {"output_channel": channel, "include_events": "NONE"},
            json={"name": intent, "entities": {}},
            may_have_happened=True,
        )
