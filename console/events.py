"""Merchant → agent, live: Rasa's event broker, followed by the console.

One small interface, two implementations:
- ``SQLEventSource`` follows the ``events`` table that Rasa's SQL event broker writes
  (embedded default: ``var/events.db``), by id, so nothing is skipped or repeated;
- ``PikaEventSource`` consumes Rasa's pika (RabbitMQ) broker: a queue bound to Rasa's
  fanout exchange; a named durable queue when ``CONSOLE_RABBITMQ_QUEUE`` is set, else
  one exclusive queue per console process (every replica sees every event).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from console.config import Settings

logger = logging.getLogger(__name__)


class EventSource(Protocol):
    """Rasa tracker events as dicts (with ``sender_id``), oldest first."""

    def events(self) -> AsyncIterator[dict[str, Any]]: ...

    async def close(self) -> None: ...


_metadata = MetaData()
# Rasa's SQLEventBroker.SQLBrokerEvent (rasa/core/brokers/sql.py).
EVENTS = Table(
    "events", _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("data", Text),
)


class SQLEventSource:
    def __init__(self, url: str, poll_s: float = 0.3, start_after: int | None = None,
                 batch: int = 500) -> None:
        self.engine: Engine = create_engine(url, future=True)
        self.poll_s = poll_s
        self.last_id = start_after
        self.batch = batch
        self._closed = asyncio.Event()
        self.started = asyncio.Event()  # set once the starting point is known

    def _max_id(self) -> int:
        """Where to start: after the newest event; at 0 when Rasa has not created the
        table yet (then every event to come is new)."""
        if not inspect(self.engine).has_table("events"):
            return 0
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.max(EVENTS.c.id))).scalar() or 0)

    def _after(self, last_id: int) -> list[tuple[int, str]]:
        with self.engine.connect() as connection:
            return [(int(row.id), row.data) for row in connection.execute(
                select(EVENTS.c.id, EVENTS.c.data).where(EVENTS.c.id > last_id)
                .order_by(EVENTS.c.id).limit(self.batch))]

    async def _wait(self) -> bool:
        """Sleeps one poll interval; True when closed meanwhile."""
        try:
            await asyncio.wait_for(self._closed.wait(), self.poll_s)
            return True
        except asyncio.TimeoutError:
            return False

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        while not self._closed.is_set():
            try:
                if self.last_id is None:  # start at the end: only new events
                    self.last_id = await asyncio.to_thread(self._max_id)
                self.started.set()
                rows = await asyncio.to_thread(self._after, self.last_id)
            except (OperationalError, ProgrammingError) as error:
                # No events table yet (rasa not started) or the file is busy.
                logger.debug("event source: %s", error)
                rows = []
            for row_id, data in rows:
                self.last_id = row_id
                try:
                    event = json.loads(data)
                except (TypeError, ValueError):
                    continue
                if isinstance(event, dict):
                    yield {**event, "_broker_id": row_id}
            if not rows and await self._wait():
                return

    async def close(self) -> None:
        self._closed.set()
        self.engine.dispose()


class PikaEventSource:
    def __init__(self, url: str, queue: str = "", exchange: str = "rasa-exchange") -> None:
        self.url = url
        self.queue_name = queue
        self.exchange_name = exchange
        self._connection: Any = None
        self.ready = asyncio.Event()

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        import aio_pika

        self._connection = await aio_pika.connect_robust(self.url)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=100)
        # Declared exactly as Rasa's PikaEventBroker declares it (fanout, defaults).
        exchange = await channel.declare_exchange(self.exchange_name,
                                                  type=aio_pika.ExchangeType.FANOUT)
        if self.queue_name:
            queue = await channel.declare_queue(self.queue_name, durable=True)
        else:
            queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        await queue.bind(exchange, "")
        self.ready.set()
        async with queue.iterator() as messages:
            async for message in messages:
                async with message.process():
                    try:
                        event = json.loads(message.body)
                    except ValueError:
                        continue
                    if isinstance(event, dict):
                        yield event

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()


def make_event_source(settings: Settings) -> EventSource:
    if settings.rabbitmq_url:
        return PikaEventSource(settings.rabbitmq_url, settings.rabbitmq_queue,
                               settings.rabbitmq_exchange)
    return SQLEventSource(settings.events_db_url, poll_s=min(settings.poll_s, 0.3))
