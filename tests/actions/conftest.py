"""Run the real actions against a real database, with trackers built like Rasa's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return Domain.load(str(PROJECT_ROOT / "domain.yml")).as_dict()


@dataclass
class Turn:
    events: list[dict[str, Any]]
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def responses(self) -> list[str | None]:
        return [m.get("response") for m in self.messages]

    @property
    def slots(self) -> dict[str, Any]:
        return {e["name"]: e["value"] for e in self.events if e.get("event") == "slot"}

    def next_slot(self, domain: dict[str, Any], form: str, slots: dict[str, Any]) -> str | None:
        """The slot the form asks for next.

        Without an explicit ``requested_slot`` event, Rasa's FormAction asks for the first
        required slot that is still empty (the SDK leaves it to Rasa in that case).
        """
        if "requested_slot" in self.slots:
            return self.slots["requested_slot"]
        merged = {**slots, **self.slots}
        required = domain["forms"][form]["required_slots"]
        return next((name for name in required if merged.get(name) is None), None)

    def rendered(self, domain: dict[str, Any]) -> str:
        """The text the merchant would see (templates filled)."""
        texts = []
        for message in self.messages:
            if message.get("text"):
                texts.append(message["text"])
            elif message.get("response"):
                template = domain["responses"][message["response"]][0]["text"]
                texts.append(template.format_map(_Missing(message)))
        return "\n".join(texts)


class _Missing(dict):
    def __init__(self, message: dict[str, Any]) -> None:
        super().__init__(message)

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def make_tracker(
    slots: dict[str, Any] | None = None,
    text: str = "",
    intent: str = "inform",
    sender_id: str = "tester",
    channel: str = "rest",
    active_loop: str | None = None,
    ranking: list[dict[str, Any]] | None = None,
    extracted: dict[str, Any] | None = None,
) -> Tracker:
    """A tracker whose latest user turn said ``text``; ``extracted`` are the slots that
    Rasa's slot extraction set from it (the ones a form validates)."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "intent_ranking": ranking or [{"name": intent, "confidence": 0.9}],
        "entities": [],
    }
    events = [{"event": "user", "text": text, "parse_data": latest, "input_channel": channel}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (extracted or {}).items()]
    return Tracker(
        sender_id=sender_id,
        slots={**(slots or {}), **(extracted or {})},
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


RunAction = Callable[..., Awaitable[Turn]]


@pytest.fixture()
def run_action(domain: dict[str, Any]) -> RunAction:
    async def run(action: Action, tracker: Tracker) -> Turn:
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, tracker, domain)
        return Turn(events=list(events), messages=dispatcher.messages)

    return run
