"""Dedup / media / token state: in-process, and shared through Redis across replicas."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import redis

from addons.channels.wechat_api import WeChatApi
from addons.channels.wechat_store import (
    DEFERRED,
    DONE,
    PENDING,
    ChannelState,
    KeyValueStore,
    MemoryStore,
    RedisStore,
)
from tests.wechat.client import APP_ID, FakeBot, content, openid, post, wechat_send
from tests.wechat.fake_wechat import FakeWeChat


async def check_store(store: KeyValueStore, prefix: str) -> None:
    key = f"{prefix}:k"
    assert await store.claim(key, "first", 5)
    assert not await store.claim(key, "second", 5)
    assert await store.get(key) == "first"
    await store.set(key, "result", 5)
    assert await store.get(key) == "result"
    await store.delete(key)
    assert await store.get(key) is None
    assert await store.claim(f"{prefix}:short", "x", 0.1)
    await asyncio.sleep(0.25)
    assert await store.get(f"{prefix}:short") is None  # expired
    assert await store.claim(f"{prefix}:short", "again", 5)


async def check_state(state: ChannelState) -> None:
    user = openid()
    assert await state.claim_message("msg:1")
    assert not await state.claim_message("msg:1")
    assert await state.message_result("msg:1") == {"state": PENDING}
    await state.finish_message("msg:1", DONE, "回复")
    assert await state.message_result("msg:1") == {"state": DONE, "reply": "回复"}
    await state.finish_message("msg:1", DEFERRED)
    assert (await state.message_result("msg:1"))["state"] == DEFERRED
    for media_id in ("m1", "m2", "m1"):
        await state.add_media(user, {"media_id": media_id})
    assert [m["media_id"] for m in await state.media(user)] == ["m2", "m1"]


async def test_memory_store() -> None:
    await check_store(MemoryStore(), "t")
    await check_state(ChannelState(MemoryStore()))


async def live_keys(store: KeyValueStore, keys: list[str]) -> list[str]:
    return [key for key in keys if await store.get(key) is not None]


async def test_memory_store_never_holds_more_than_its_bound() -> None:
    store = MemoryStore(max_keys=10)
    keys = [f"k{i}" for i in range(50)]
    for count, key in enumerate(keys, start=1):
        await store.set(key, "v", 60)
        assert len(await live_keys(store, keys)) == min(count, 10)
    # The ones that expire first go first: the ten latest remain.
    assert await live_keys(store, keys) == keys[-10:]


async def test_memory_store_claims_respect_the_bound_too() -> None:
    store = MemoryStore(max_keys=3)
    keys = [f"msg:{i}" for i in range(6)]
    for key in keys:
        assert await store.claim(key, "pending", 60)
    assert await live_keys(store, keys) == keys[-3:]


async def test_memory_store_overwriting_a_key_at_the_bound_evicts_nothing() -> None:
    store = MemoryStore(max_keys=3)
    keys = ["a", "b", "c"]
    for key in keys:
        await store.set(key, "1", 60)
    await store.set("b", "2", 60)
    assert await live_keys(store, keys) == keys
    assert await store.get("b") == "2"


async def test_memory_store_drops_expired_keys_before_live_ones() -> None:
    store = MemoryStore(max_keys=2)
    await store.set("old", "v", 0.01)
    await store.set("live", "v", 60)
    await asyncio.sleep(0.05)  # "old" has expired: no timing is asserted
    await store.set("new", "v", 60)
    assert await live_keys(store, ["old", "live", "new"]) == ["live", "new"]


@pytest.mark.redis
async def test_redis_store(redis_store: RedisStore, redis_namespace: str) -> None:
    await check_store(redis_store, redis_namespace)
    await check_state(ChannelState(redis_store, namespace=redis_namespace))


def redis_connections(url: str, client_name: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return sum(1 for c in client.client_list() if c.get("name") == client_name)
    finally:
        client.close()


def wait_for_redis_connections(url: str, client_name: str, count: int) -> int:
    """Redis drops a closed connection when it reads the close: wait for that (bounded)."""
    deadline = time.monotonic() + 10
    while (found := redis_connections(url, client_name)) != count and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


@pytest.mark.redis
def test_a_redis_client_replaced_on_another_event_loop_is_closed(
    redis_available: str, redis_namespace: str
) -> None:
    name = f"{redis_namespace}-client"
    url = f"{redis_available}{'&' if '?' in redis_available else '?'}client_name={name}"
    store = RedisStore(url)
    # The first client lives on an event loop that keeps running in another thread.
    owner = asyncio.new_event_loop()
    thread = threading.Thread(target=owner.run_forever, daemon=True)
    thread.start()
    try:
        key = f"{redis_namespace}:k"
        asyncio.run_coroutine_threadsafe(store.set(key, "v", 30), owner).result(10)
        assert redis_connections(redis_available, name) == 1

        async def on_this_loop() -> None:
            assert await store.get(key) == "v"  # a client of its own for this loop
            await store.close()

        asyncio.run(on_this_loop())
        assert wait_for_redis_connections(redis_available, name, 0) == 0
    finally:
        owner.call_soon_threadsafe(owner.stop)
        thread.join(10)
        owner.close()


@pytest.mark.redis
async def test_redis_claim_is_exclusive_across_replicas(
    redis_available: str, redis_namespace: str
) -> None:
    replicas = [RedisStore(redis_available) for _ in range(5)]
    try:
        wins = await asyncio.gather(*(r.claim(f"{redis_namespace}:msg", str(i), 30)
                                      for i, r in enumerate(replicas)))
        assert sum(wins) == 1
    finally:
        for replica in replicas:
            await replica.close()


@pytest.mark.redis
async def test_redis_shares_the_access_token_between_replicas(
    redis_available: str, redis_namespace: str, fake_wechat: FakeWeChat
) -> None:
    stores = [RedisStore(redis_available) for _ in range(3)]
    apis = [WeChatApi(APP_ID, "secret", ChannelState(s, namespace=redis_namespace),
                      fake_wechat.url) for s in stores]
    try:
        tokens = await asyncio.gather(*(api.access_token() for api in apis))
        assert set(tokens) == {"TOKEN-1"} and fake_wechat.token_calls == 1
    finally:
        for api in apis:
            await api.close()
        for store in stores:
            await store.close()


@pytest.mark.redis
async def test_a_retry_on_another_replica_is_not_processed_again(
    make_channel: Any, redis_available: str, redis_namespace: str
) -> None:
    stores = [RedisStore(redis_available) for _ in range(2)]
    try:
        replicas = [make_channel(store=s) for s in stores]
        for replica in replicas:
            replica.state.namespace = redis_namespace
        bot = FakeBot(delay=0.3)
        user = openid()
        xml = wechat_send.text_xml(user, "你好", msg_id=99)
        results = await asyncio.gather(*(post(r, bot, xml) for r in replicas + replicas))
        assert [content(r) for r in results] == ["收到：你好"] * 4
        assert len(bot.calls) == 1
        # (Numbered choices are read from the conversation, which the replicas share
        # through the tracker store: addons.typed_choices.)
    finally:
        for store in stores:
            await store.close()
