"""A Redis rate-limit count always expires, even when the connection is lost mid-way.

Issue 23: counting with INCR and then EXPIRE as two calls leaves a key without a TTL
when the second call never arrives (a crash, a dropped connection, a timeout between
the two); the count then only grows and the sender stays limited for good. These tests
use the real Redis on 127.0.0.1:6379 and skip, loudly, when it is down.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
import redis.asyncio as redis_asyncio

from addons.channels.rate_limit import RateLimiter

pytestmark = pytest.mark.redis

REDIS_URL = "redis://127.0.0.1:6379/0"
WINDOW_S = 60


@pytest.fixture()
def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"!!! Redis is not reachable on 127.0.0.1:6379 ({error}): "
                    "rate-limit expiry tests SKIPPED !!!")
    return client


@pytest.fixture()
async def sender(redis_client: redis.Redis) -> AsyncIterator[str]:
    sender = f"expiry-{uuid.uuid4().hex}"
    yield sender
    redis_client.delete(f"ratelimit:widget:{sender}")


class LostAfterFirstCommand:
    """A Redis connection that carries one command and is then lost: every later
    command raises ConnectionError, as when the process or the link dies right after
    the first reply."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.sent: list[str] = []

    def __getattr__(self, name: str) -> Any:
        command = getattr(self._real, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.sent.append(name)
            if len(self.sent) > 1:
                raise redis.ConnectionError("connection lost")
            return await command(*args, **kwargs)

        return call


async def test_a_connection_lost_after_the_first_command_leaves_a_count_that_expires(
    redis_client: redis.Redis, sender: str,
) -> None:
    key = f"ratelimit:widget:{sender}"
    crashing = RateLimiter(limit=3, window_s=WINDOW_S, redis_url=REDIS_URL)
    real = redis_asyncio.from_url(REDIS_URL)
    crashing._redis = LostAfterFirstCommand(real)
    try:
        assert await crashing.allow("widget", sender)  # the store failing never refuses
    finally:
        await real.close()
    assert redis_client.exists(key), "the count was not written: the test proves nothing"
    # Whatever reached Redis expires within the window: the sender is not limited forever.
    assert 0 < redis_client.pttl(key) <= WINDOW_S * 1000

    healthy = RateLimiter(limit=3, window_s=WINDOW_S, redis_url=REDIS_URL)
    try:
        assert [await healthy.allow("widget", sender) for _ in range(3)] == [True, True, False]
    finally:
        await healthy.close()
    assert 0 < redis_client.pttl(key) <= WINDOW_S * 1000


async def test_a_count_left_without_expiry_by_the_old_code_gets_one_again(
    redis_client: redis.Redis, sender: str,
) -> None:
    key = f"ratelimit:widget:{sender}"
    redis_client.set(key, 500)  # what a lost EXPIRE of the old two-call code left behind
    assert redis_client.pttl(key) == -1
    limiter = RateLimiter(limit=3, window_s=WINDOW_S, redis_url=REDIS_URL)
    try:
        assert not await limiter.allow("widget", sender)  # still over the limit for now
    finally:
        await limiter.close()
    # ...but only until the window has passed.
    assert 0 < redis_client.pttl(key) <= WINDOW_S * 1000


async def test_a_running_window_is_not_extended_by_more_messages(
    redis_client: redis.Redis, sender: str,
) -> None:
    key = f"ratelimit:widget:{sender}"
    limiter = RateLimiter(limit=3, window_s=WINDOW_S, redis_url=REDIS_URL)
    try:
        await limiter.allow("widget", sender)
        redis_client.pexpire(key, 5_000)  # the window is nearly over
        for _ in range(5):
            await limiter.allow("widget", sender)
    finally:
        await limiter.close()
    assert 0 < redis_client.pttl(key) <= 5_000  # a fixed window: it still ends on time
