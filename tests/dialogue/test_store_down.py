"""PostgreSQL goes down in the middle of a conversation and comes back: the real agent
(trained model, real actions), the REST channel and PrivateSQLTrackerStore on PostgreSQL.

Rasa's own FailSafeTrackerStore would answer from an empty tracker and keep the turn in
memory; here the merchant is asked to retry (503) and the conversation continues with
its history once the database is back."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import register
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.events import SessionStarted, UserUttered
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from addons.channels.rest import RestInput
from addons.stores.tracker_store import (
    STORE_DOWN_TEXT,
    NoFallbackTrackerStore,
    PrivateSQLTrackerStore,
)

# Several Sanic apps start in this process: test mode keeps Sanic's original methods
# (tests/wechat/app_server.py does the same).
Sanic.test_mode = True

pytestmark = [pytest.mark.dialogue, pytest.mark.postgres]


@pytest.fixture()
def switch(postgres_admin_url: str, postgres_url: str) -> Iterator[callable]:
    """switch(False): the test database refuses connections and its sessions are cut,
    as when PostgreSQL is down; switch(True): back."""
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    name = make_url(postgres_url).database

    def set_up(on: bool) -> None:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(on).lower()}'))
            if not on:
                connection.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})

    yield set_up
    set_up(True)
    admin.dispose()


async def test_postgresql_down_asks_to_retry_and_the_history_survives(
    agent: Agent, fresh_db: str, postgres_url: str, switch: callable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The agent as `rasa run` loads it already has the wrapper without fallback.
    assert isinstance(agent.tracker_store, NoFallbackTrackerStore)
    store = TrackerStore.create(EndpointConfig(
        url=postgres_url, type="addons.stores.tracker_store.PrivateSQLTrackerStore"),
        agent.domain)
    assert isinstance(store, PrivateSQLTrackerStore)
    wrapped = Agent._create_tracker_store(store, agent.domain)
    monkeypatch.setattr(agent, "tracker_store", wrapped)
    monkeypatch.setattr(agent.processor, "tracker_store", wrapped)

    app = Sanic("store_down")
    app.ctx.agent = agent
    register([RestInput()], app, "/webhooks/")
    await app._startup()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rasa",
                               timeout=60)

    async def say(message: str) -> httpx.Response:
        return await client.post("/webhooks/rest/webhook",
                                 json={"sender": "pg-down", "message": message})

    try:
        first = await say("客服电话多少")
        assert first.status_code == 200 and "95017" in first.text

        switch(False)
        down = await say("怎么申诉")
        assert down.status_code == 503
        assert down.json() == [{"recipient_id": "rest:pg-down", "text": STORE_DOWN_TEXT}]
        assert wrapped._fallback_tracker_store is None  # nothing kept in memory

        switch(True)
        back = await say("怎么申诉")
        assert back.status_code == 200 and STORE_DOWN_TEXT not in back.text
    finally:
        await client.aclose()
        store.engine.dispose()

    tracker = await store.retrieve("rest:pg-down")
    store.engine.dispose()
    assert tracker is not None
    # One conversation: the first turn and the one after the outage, nothing between.
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == [
        "客服电话多少", "怎么申诉"]
    assert sum(isinstance(e, SessionStarted) for e in tracker.events) == 1
