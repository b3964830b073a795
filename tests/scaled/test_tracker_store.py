"""PrivateSQLTrackerStore from endpoints.scaled.yml on PostgreSQL: round trip, masking,
the pool budget and Rasa's events schema (the bench reads that table)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons.stores.tracker_store import PrivateSQLTrackerStore
from tests.scaled.conftest import read_scaled_endpoints

pytestmark = pytest.mark.postgres

PHONE = "13912345678"


async def test_round_trip_on_postgresql_keeps_personal_data_out(
    scaled_env: None, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_DB_URL", postgres_url)
    config = read_scaled_endpoints().tracker_store
    store = TrackerStore.create(config, Domain.empty())
    try:
        assert isinstance(store, PrivateSQLTrackerStore)
        assert store.engine.dialect.name == "postgresql"
        # The budget of endpoints.scaled.yml, and dead connections replaced before use.
        assert store.engine.pool.size() == 3
        assert store.engine.pool._max_overflow == 2
        assert store.engine.pool._pre_ping

        tracker = DialogueStateTracker.from_events("merchant-1", [
            ActionExecuted("action_session_start"), SessionStarted(),
            ActionExecuted("action_listen"),
            UserUttered(f"我的手机号是{PHONE}，收款被限制了",
                        {"name": "account_restricted", "confidence": 0.9}),
        ])
        await store.save(tracker)
        again = await store.retrieve("merchant-1")
        assert again is not None
        texts = [e.text for e in again.events if isinstance(e, UserUttered)]
        assert len(texts) == 1 and PHONE not in texts[0] and "收款被限制了" in texts[0]

        with store.engine.connect() as connection:
            columns = {c["name"] for c in sa.inspect(connection).get_columns("events")}
            rows = connection.execute(sa.text(
                "SELECT sender_id, type_name, intent_name, data FROM events")).all()
        assert {"id", "sender_id", "type_name", "timestamp", "intent_name", "action_name",
                "data"} <= columns
        assert ("merchant-1", "user", "account_restricted") in [r[:3] for r in rows]
        assert all(PHONE not in row.data for row in rows)
    finally:
        store.engine.dispose()
