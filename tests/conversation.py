"""Whole conversations in-process: the trained model, Rasa's own policies and forms, the
real actions and a real database, without HTTP servers.

Rasa runs every custom action through ``RemoteAction`` exactly as in production; only
the HTTP hop to the action server is replaced by ``InProcessActionEndpoint``, which
hands the same JSON to rasa-sdk's ``ActionExecutor`` (the code behind ``rasa run
actions``). Form logic, slot extraction, response rendering and the action-result
validation all run as they do in the servers.

Every bot message is checked for template variables left unfilled (``{name}``).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk.executor import ActionExecutor

UNFILLED = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


class InProcessActionEndpoint(EndpointConfig):
    """An action endpoint that runs the action server's executor in this process."""

    def __init__(self) -> None:
        super().__init__(url="http://in-process/webhook")
        self.executor = ActionExecutor()
        self.executor.register_package("actions")
        self.calls: list[str] = []

    async def request(self, method: str = "post", subpath: str | None = None,
                      content_type: str | None = "application/json", compress: bool = False,
                      **kwargs: Any) -> Any:
        # The JSON round trip keeps the contract honest: only what HTTP would carry.
        payload = json.loads(json.dumps(kwargs["json"]))
        self.calls.append(payload.get("next_action"))
        result = await self.executor.run(payload)
        return json.loads(json.dumps(result))


@dataclass
class Reply:
    """What the bot said for one user message."""

    messages: list[dict[str, Any]]
    responses: list[str | None]
    intent: str | None = None
    #: The knowledge entries answered (``None`` for a message that is not one).
    entries: list[str | None] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(m.get("text") or "" for m in self.messages)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [b for m in self.messages for b in m.get("buttons") or []]


@dataclass
class Conversation:
    agent: Agent
    sender_id: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:10]}")
    channel: str = "rest"
    replies: list[Reply] = field(default_factory=list)
    #: Fail when the same prompt closes three turns in a row (the bot nagging).
    allow_repeats: bool = False

    async def say(self, text: str) -> Reply:
        output = CollectingOutputChannel()
        before = len((await self.tracker()).events)
        await self.agent.handle_message(
            UserMessage(text, output, self.sender_id, input_channel=self.channel)
        )
        events = list((await self.tracker()).events)[before:]
        intent = next((e.intent.get("name") for e in events if isinstance(e, UserUttered)),
                      None)
        responses = [e.metadata.get("utter_action") for e in events
                     if isinstance(e, BotUttered)]
        entries = [e.metadata.get("knowledge_entry") for e in events
                   if isinstance(e, BotUttered)]
        reply = Reply(output.messages, responses, intent, entries)
        for message in output.messages:
            unfilled = UNFILLED.findall(message.get("text") or "")
            assert not unfilled, f"unfilled template variables {unfilled} in {message!r}"
        self.replies.append(reply)
        if not self.allow_repeats:
            last = [r.messages[-1].get("text") if r.messages else None for r in self.replies[-3:]]
            assert not (len(last) == 3 and last[0] and len(set(last)) == 1), (
                f"the same prompt three times in a row: {last[0]!r}")
        return reply

    async def tracker(self) -> Any:
        return await self.agent.tracker_store.get_or_create_tracker(self.sender_id)

    async def slot(self, name: str) -> Any:
        return (await self.tracker()).get_slot(name)

    async def active_form(self) -> str | None:
        return (await self.tracker()).active_loop_name


def load_agent(model: Path, endpoint: InProcessActionEndpoint) -> Agent:
    return Agent.load(str(model), action_endpoint=endpoint)
