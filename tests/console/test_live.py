"""Merchant → agent, live: Rasa's own event brokers feed the console's event sources,
and the console pushes server-sent events to the UI."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from console.app import create_app
from console.events import PikaEventSource, SQLEventSource
from console.live import Snapshot, changes
from tests.console.conftest import PASSWORD, add_agent, queue_handoff, settings_for
from tests.console.fake_rasa import FakeRasa
from tests.e2e.servers import free_port


def rasa_sql_broker(path: Path) -> Any:
    """Rasa's own SQLEventBroker writing to a SQLite file (as endpoints.yml configures)."""
    from rasa.core.brokers.sql import SQLEventBroker

    return SQLEventBroker(dialect="sqlite", db=str(path))


def user_event(sender: str, text: str) -> dict[str, Any]:
    return {"sender_id": sender, "event": "user", "text": text, "timestamp": time.time(),
            "input_channel": "widget", "metadata": {}}


async def take(source: Any, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        async for event in source.events():
            events.append(event)
            if len(events) == count:
                return

    await asyncio.wait_for(collect(), timeout)
    return events


async def test_sql_source_follows_the_events_table_in_order(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    broker = rasa_sql_broker(db)
    broker.publish(user_event("old", "在开始之前"))  # before the console started
    source = SQLEventSource(f"sqlite:///{db}", poll_s=0.05)
    try:
        reader = asyncio.create_task(take(source, 3))
        await asyncio.wait_for(source.started.wait(), 10)
        for n in range(3):
            broker.publish(user_event("m1", f"第{n}条"))
        events = await reader
    finally:
        await source.close()
    assert [e["text"] for e in events] == ["第0条", "第1条", "第2条"]
    ids = [e["_broker_id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert all(e["sender_id"] == "m1" for e in events)


async def test_sql_source_waits_for_rasa_to_create_the_table(tmp_path: Path) -> None:
    db = tmp_path / "later.db"
    source = SQLEventSource(f"sqlite:///{db}", poll_s=0.05)
    try:
        reader = asyncio.create_task(take(source, 1))
        await asyncio.wait_for(source.started.wait(), 10)  # no file, no table yet
        broker = rasa_sql_broker(db)
        broker.publish(user_event("m2", "你好"))
        [event] = await reader
    finally:
        await source.close()
    assert event["text"] == "你好"


def _rabbitmq_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.rabbitmq
@pytest.mark.skipif(not _rabbitmq_up(), reason="!!! RabbitMQ is not reachable on 5672 !!!")
@pytest.mark.parametrize("named_queue", [False, True])
async def test_pika_source_consumes_rasas_pika_broker(named_queue: bool) -> None:
    import rasa.shared.core.events  # noqa: F401 - PikaEventBroker uses it unimported
    from rasa.core.brokers.pika import PikaEventBroker

    exchange = f"console-test-{uuid.uuid4().hex[:8]}"
    queue = f"console-test-q-{uuid.uuid4().hex[:8]}" if named_queue else ""
    source = PikaEventSource("amqp://guest:guest@127.0.0.1:5672/", queue, exchange)
    reader = asyncio.create_task(take(source, 2))
    await asyncio.wait_for(source.ready.wait(), 20)
    rasa_queue = f"{exchange}-rasa"  # what Rasa's config lists (e.g. for analytics)
    broker = PikaEventBroker("localhost", "guest", "guest", queues=[rasa_queue],
                             exchange_name=exchange, event_loop=asyncio.get_running_loop())
    await broker.connect()
    try:
        broker.publish(user_event("p1", "第一条"))
        broker.publish(user_event("p1", "第二条"))
        events = await reader
    finally:
        await broker.close()
        await source.close()
        await _remove(exchange, [rasa_queue, queue])
    assert [e["text"] for e in events] == ["第一条", "第二条"]


async def _remove(exchange: str, queues: list[str]) -> None:
    """This test's own exchange and queues only (RabbitMQ is shared on the machine)."""
    import aio_pika

    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    async with connection:
        channel = await connection.channel()
        for name in filter(None, queues):
            await channel.queue_delete(name)
        await channel.exchange_delete(exchange)


def test_changes_name_what_happened() -> None:
    before = Snapshot(handoffs={1: ("waiting", None), 2: ("agent", 7)},
                      messages={10: "pending"}, presence={7: "online"})
    after = Snapshot(handoffs={1: ("agent", 8), 3: ("waiting", None)},
                     messages={10: "failed"}, presence={7: "away"})
    kinds = [(e["type"], e.get("handoff_id")) for e in changes(before, after)]
    assert kinds == [("claimed", 1), ("queued", 3), ("ended", 2), ("delivery", None),
                     ("agents", None), ("queue", None)]
    assert changes(after, after) == []


class RunningConsole:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", ws="none"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RunningConsole:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("console did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture()
def running_console(db_url: str, tmp_path: Path, fake_rasa: FakeRasa) -> Iterator[Any]:
    events_db = tmp_path / "events.db"
    broker = rasa_sql_broker(events_db)
    app = create_app(settings_for(db_url, poll_s=0.1,
                                  events_db_url=f"sqlite:///{events_db}"),
                     rasa_transport=fake_rasa.transport())
    with RunningConsole(app) as running:
        running.broker = broker  # type: ignore[attr-defined]
        yield running


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    kind = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: ") and kind:
            yield {"type": kind, **json.loads(line[6:])}


def test_the_ui_hears_of_a_new_waiting_merchant_and_their_messages(
        db_url: str, running_console: Any) -> None:
    add_agent(db_url, "wang", "小王")
    with httpx.Client(base_url=running_console.url, timeout=20) as browser:
        login = browser.post("/console/api/login",
                             json={"username": "wang", "password": PASSWORD})
        assert login.status_code == 200
        with browser.stream("GET", "/console/api/stream") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = sse_events(stream)
            assert next(events)["type"] == "hello"
            handoff_id = queue_handoff(db_url, "visitor-9", channel="widget")
            seen = next(e for e in events if e["type"] == "queued")
            assert seen["handoff_id"] == handoff_id and seen["status"] == "waiting"
            assert seen["handoff"]["problem"] == "收款码被限制了，钱能提出来吗"
            # Rasa's broker writes the merchant's next message; the console forwards it.
            # The watcher announced it, so its snapshot knows the conversation now.
            running_console.broker.publish(user_event("other-sender", "无关的对话"))
            running_console.broker.publish(user_event("visitor-9", "我的手机13800000002"))
            message = next(e for e in events if e["type"] == "message")
            assert message["handoff_id"] == handoff_id
            assert message["entry"]["role"] == "merchant"
            assert message["entry"]["text"] == "我的手机138********"


def test_a_held_conversations_lines_reach_only_its_agent(db_url: str,
                                                           running_console: Any) -> None:
    """P5 g: the live feed follows the conversation page's rule. Another agent hears
    that it was claimed, never what the merchant says to the agent holding it."""
    add_agent(db_url, "wang", "小王")
    add_agent(db_url, "li", "小李")
    held = queue_handoff(db_url, "live-held", channel="widget")
    waiting = queue_handoff(db_url, "live-waiting", channel="widget")
    with httpx.Client(base_url=running_console.url, timeout=20) as wang, \
            httpx.Client(base_url=running_console.url, timeout=20) as li:
        for browser, name in ((wang, "wang"), (li, "li")):
            login = browser.post("/console/api/login",
                                 json={"username": name, "password": PASSWORD})
            browser.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        with wang.stream("GET", "/console/api/stream") as wang_stream, \
                li.stream("GET", "/console/api/stream") as li_stream:
            wang_events, li_events = sse_events(wang_stream), sse_events(li_stream)
            assert next(wang_events)["type"] == next(li_events)["type"] == "hello"
            assert wang.post(f"/console/api/handoffs/{held}/claim").status_code == 200
            claimed = next(e for e in li_events if e["type"] == "claimed")
            assert claimed["handoff_id"] == held
            running_console.broker.publish(user_event("live-held", "只给小王看的话"))
            running_console.broker.publish(user_event("live-waiting", "排队时说的话"))
            first = next(e for e in li_events if e["type"] == "message")
            assert (first["handoff_id"], first["entry"]["text"]) == (waiting, "排队时说的话")
            mine = next(e for e in wang_events if e["type"] == "message")
            assert (mine["handoff_id"], mine["entry"]["text"]) == (held, "只给小王看的话")
