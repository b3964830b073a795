"""The pika event broker of endpoints.scaled.yml publishes to RabbitMQ, and the agent
console consumes the queue the broker fills."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import aio_pika
import pytest
from rasa.core.brokers.pika import PikaEventBroker

from tests.conftest import PROJECT_ROOT
from tests.scaled.conftest import read_scaled_endpoints, require

pytestmark = pytest.mark.rabbitmq


def test_the_console_consumes_the_queue_the_broker_fills(scaled_env: None) -> None:
    config = read_scaled_endpoints().event_broker
    assert config.type == "pika"
    script = (PROJECT_ROOT / "scripts" / "cluster.sh").read_text(encoding="utf-8")
    consumed = re.search(r"CONSOLE_RABBITMQ_QUEUE=(\S+)", script)
    assert consumed and config.kwargs["queues"] == [consumed.group(1)]


async def test_an_event_published_by_the_broker_reaches_a_consumer(scaled_env: None) -> None:
    require("RabbitMQ", "127.0.0.1", 5672)
    config = read_scaled_endpoints().event_broker
    # The configured connection, on a queue and exchange of this test only (the running
    # cluster's console must not see test events).
    name = f"scaled-test-{uuid.uuid4().hex[:12]}"
    kwargs = {**config.kwargs, "queues": [name], "exchange_name": name}
    broker = PikaEventBroker(config.url, **kwargs)
    await broker.connect()
    connection = await aio_pika.connect_robust(
        f"amqp://{kwargs['username']}:{kwargs['password']}@{config.url}:{kwargs['port']}/")
    try:
        event = {"sender_id": "merchant-1", "event": "user", "text": "收款被限制了"}
        broker.publish(event)
        channel = await connection.channel()
        queue = await channel.get_queue(name)
        message = None
        for _ in range(50):
            message = await queue.get(no_ack=True, fail=False)
            if message:
                break
            await asyncio.sleep(0.05)
        assert message is not None, "nothing arrived in the queue"
        assert json.loads(message.body) == event
        await queue.delete(if_unused=False, if_empty=False)
        await channel.exchange_delete(name)
    finally:
        await broker.close()
        await connection.close()
