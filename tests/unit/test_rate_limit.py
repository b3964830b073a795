"""The per-sender rate limit of the channels, in-process and shared through Redis."""

from __future__ import annotations

import uuid

import pytest
import redis

from addons.channels import rate_limit
from addons.channels.rate_limit import RateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


async def test_over_the_limit_in_a_window_then_allowed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(rate_limit.time, "monotonic", lambda: clock[0])
    limiter = RateLimiter(limit=3, window_s=60)
    assert [await limiter.allow("widget", "a") for _ in range(4)] == [True, True, True, False]
    assert await limiter.allow("widget", "b")  # other senders are not affected
    assert await limiter.allow("wechat", "a")  # nor the same id on another channel
    clock[0] += 61
    assert await limiter.allow("widget", "a")


async def test_memory_stays_bounded() -> None:
    limiter = RateLimiter(limit=3, window_s=60, max_keys=10)
    for n in range(50):
        await limiter.allow("widget", f"s{n}")
    assert len(limiter._counts) <= 10


async def test_shared_through_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"!!! Redis is not reachable ({error}): Redis rate limit SKIPPED !!!")
    sender = uuid.uuid4().hex
    one, two = RateLimiter(3, 60, REDIS_URL), RateLimiter(3, 60, REDIS_URL)  # two replicas
    try:
        results = [await limiter.allow("widget", sender) for limiter in (one, two, one, two)]
    finally:
        await one.close()
        await two.close()
    assert results == [True, True, True, False]


async def test_a_store_that_is_down_never_stops_the_service() -> None:
    limiter = RateLimiter(1, 60, "redis://127.0.0.1:9/0")  # nothing listens on port 9
    try:
        assert await limiter.allow("widget", "x") and await limiter.allow("widget", "x")
    finally:
        await limiter.close()
