"""A failing tracker store refuses the turn: no in-memory fallback, a polite 503 on REST.
(The whole conversation with PostgreSQL going down and coming back:
tests/dialogue/test_store_down.py.)"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage, register
from rasa.core.lock_store import LockError
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

from addons.channels.rest import RestInput
from addons.stores import tracker_store
from addons.stores.tracker_store import (
    STORE_DOWN_TEXT,
    NoFallbackTrackerStore,
    TrackerStoreUnavailable,
)

# Several Sanic apps start in this process: test mode keeps Sanic's original methods
# (tests/wechat/app_server.py does the same).
Sanic.test_mode = True


class BrokenStore(InMemoryTrackerStore):
    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        raise ConnectionError("database down")

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        raise ConnectionError("database down")

    async def save(self, tracker: DialogueStateTracker) -> None:
        raise ConnectionError("database down")


def test_every_agent_gets_the_wrapper_without_fallback() -> None:
    agent = Agent(domain=Domain.empty())
    assert isinstance(agent.tracker_store, NoFallbackTrackerStore)


async def test_failures_raise_and_nothing_is_kept_in_memory() -> None:
    store = NoFallbackTrackerStore(BrokenStore(Domain.empty()))
    tracker = DialogueStateTracker("merchant-1", [])
    for call in (store.retrieve("merchant-1"), store.retrieve_full_tracker("merchant-1"),
                 store.get_or_create_tracker("merchant-1"), store.save(tracker)):
        with pytest.raises(TrackerStoreUnavailable):
            await call
    assert store._fallback_tracker_store is None


def test_startup_fails_loudly_when_rasa_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FailSafeTrackerStore, "exists", lambda self, sender: True,
                        raising=False)
    with pytest.raises(RuntimeError, match="exists"):
        tracker_store.install()
    monkeypatch.delattr(FailSafeTrackerStore, "exists")
    monkeypatch.delattr(Agent, "_create_tracker_store")
    with pytest.raises(RuntimeError, match="_create_tracker_store"):
        tracker_store.install()


async def rest_app(on_message: Any) -> httpx.AsyncClient:
    app = Sanic(f"store_failure_{id(on_message)}")
    app.ctx.agent = type("FakeAgent", (), {"handle_message": staticmethod(on_message)})()
    register([RestInput()], app, "/webhooks/")
    await app._startup()  # what the server does before it serves (routes finalised)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rasa")


async def test_rest_answers_503_with_a_polite_text_when_the_store_is_down() -> None:
    async def turn(message: UserMessage) -> None:
        # Said before the store failed at the end of the turn: not on record, not sent.
        await message.output_channel.send_text_message(message.sender_id, "一半的回答")
        raise TrackerStoreUnavailable("tracker store save failed")

    async with await rest_app(turn) as client:
        answer = await client.post("/webhooks/rest/webhook",
                                   json={"sender": "m1", "message": "收款被限制了"})
    assert answer.status_code == 503
    assert answer.json() == [{"recipient_id": "rest:m1", "text": STORE_DOWN_TEXT}]


@pytest.mark.parametrize("error", [LockError("Error while acquiring lock. Error:\nredis down"),
                                   RuntimeError("anything else")])
async def test_rest_answers_503_when_the_turn_fails_otherwise(error: Exception) -> None:
    # Rasa's own REST channel answers these with 200 and an empty list.
    async def turn(message: UserMessage) -> None:
        raise error

    async with await rest_app(turn) as client:
        answer = await client.post("/webhooks/rest/webhook",
                                   json={"sender": "m1", "message": "收款被限制了"})
    assert answer.status_code == 503
    assert answer.json() == [{"recipient_id": "rest:m1", "text": STORE_DOWN_TEXT}]


async def test_rest_answers_normally_otherwise() -> None:
    async def turn(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "你好")

    async with await rest_app(turn) as client:
        for _ in range(2):  # the flag of one request never leaks into the next
            answer = await client.post("/webhooks/rest/webhook",
                                       json={"sender": "m1", "message": "你好"})
            assert answer.status_code == 200
            assert answer.json() == [{"recipient_id": "rest:m1", "text": "你好"}]
