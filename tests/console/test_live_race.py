"""The live feed never drops a merchant message (issue 20, item 6): a conversation
queued and claimed within one watcher interval is not in the watcher's snapshot yet
when the merchant writes; the message must reach the agent all the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.app import create_app
from tests.console.conftest import PASSWORD, add_agent, queue_handoff, settings_for
from tests.console.fake_rasa import FakeRasa
from tests.console.test_live import RunningConsole, rasa_sql_broker, sse_events, user_event

# Longer than the test: the watcher reads its first snapshot and no other.
SLOW_WATCHER_S = 120.0


@pytest.fixture()
def slow_watcher_console(db_url: str, tmp_path: Path, fake_rasa: FakeRasa) -> Iterator[Any]:
    events_db = tmp_path / "events.db"
    broker = rasa_sql_broker(events_db)
    app = create_app(settings_for(db_url, poll_s=SLOW_WATCHER_S,
                                  events_db_url=f"sqlite:///{events_db}"),
                     rasa_transport=fake_rasa.transport())
    with RunningConsole(app) as running:
        running.broker = broker  # type: ignore[attr-defined]
        yield running


def test_a_message_right_after_queue_and_claim_reaches_the_agent(
        db_url: str, slow_watcher_console: Any) -> None:
    add_agent(db_url, "wang", "小王")
    # Read timeout below the stream's 15 s keep-alive: a dropped message fails fast.
    with httpx.Client(base_url=slow_watcher_console.url, timeout=8) as browser:
        login = browser.post("/console/api/login",
                             json={"username": "wang", "password": PASSWORD})
        browser.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        with browser.stream("GET", "/console/api/stream") as stream:
            events = sse_events(stream)
            assert next(events)["type"] == "hello"
            handoff_id = queue_handoff(db_url, "visitor-race", channel="widget")
            claim = browser.post(f"/console/api/handoffs/{handoff_id}/claim")
            assert claim.status_code == 200
            slow_watcher_console.broker.publish(user_event("visitor-race", "还在吗？"))
            message = next(e for e in events if e["type"] == "message")
    assert message["handoff_id"] == handoff_id
    assert message["entry"]["role"] == "merchant"
    assert message["entry"]["text"] == "还在吗？"
