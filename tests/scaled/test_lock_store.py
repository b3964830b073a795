"""The Redis lock store of endpoints.scaled.yml serialises one sender across replicas."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from rasa.core.lock_store import LockStore, RedisLockStore

from tests.scaled.conftest import TEST_REDIS_DB, read_scaled_endpoints, require

pytestmark = pytest.mark.redis


@pytest.fixture()
def lock_config(scaled_env: None):  # type: ignore[no-untyped-def]
    require("Redis", "127.0.0.1", 6379)
    return read_scaled_endpoints().lock_store


def test_the_lock_store_is_redis_in_its_own_database(lock_config) -> None:  # type: ignore[no-untyped-def]
    store = LockStore.create(lock_config)
    assert isinstance(store, RedisLockStore)
    assert store.red.connection_pool.connection_kwargs["db"] == TEST_REDIS_DB
    assert store.key_prefix.startswith("msa:")


async def test_two_replicas_take_turns_for_one_sender(lock_config) -> None:  # type: ignore[no-untyped-def]
    replica_a, replica_b = LockStore.create(lock_config), LockStore.create(lock_config)
    sender, other = f"scaled-test-{uuid.uuid4().hex}", f"scaled-test-{uuid.uuid4().hex}"
    order: list[str] = []

    async def turn(store: LockStore, name: str, conversation: str, hold_s: float) -> None:
        async with store.lock(conversation, wait_time_in_seconds=0.02):
            order.append(f"{name} in")
            await asyncio.sleep(hold_s)
            order.append(f"{name} out")

    first = asyncio.ensure_future(turn(replica_a, "a", sender, 0.4))
    await asyncio.sleep(0.1)  # a holds the conversation
    await asyncio.gather(first, turn(replica_b, "b", sender, 0.0),
                         turn(replica_b, "c", other, 0.0))
    # b waited for a; c (another conversation) did not.
    assert order.index("b in") > order.index("a out")
    assert order.index("c in") < order.index("a out")
    for store in (replica_a, replica_b):
        assert not store.red.exists(store.key_prefix + sender)
