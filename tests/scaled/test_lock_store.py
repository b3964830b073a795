"""The Redis lock store of endpoints.scaled.yml serialises one sender across replicas,
with ticket updates that stay correct when replicas change one lock at the same time."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from rasa.core.lock_store import LockStore

from addons.stores.lock_store import AtomicRedisLockStore
from tests.scaled.conftest import TEST_REDIS_DB, read_scaled_endpoints, require

pytestmark = pytest.mark.redis


@pytest.fixture()
def lock_config(scaled_env: None):  # type: ignore[no-untyped-def]
    require("Redis", "127.0.0.1", 6379)
    return read_scaled_endpoints().lock_store


def test_the_lock_store_is_redis_in_its_own_database(lock_config) -> None:  # type: ignore[no-untyped-def]
    store = LockStore.create(lock_config)
    assert isinstance(store, AtomicRedisLockStore)
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


def at_once(count: int, work) -> list:  # type: ignore[no-untyped-def, type-arg]
    """Runs ``work(i)`` in ``count`` threads released together; their results."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_tickets_taken_at_the_same_moment_are_all_different(lock_config) -> None:  # type: ignore[no-untyped-def]
    # Rasa's RedisLockStore hands several of these threads ticket 0 (each reads "no
    # lock" before any writes): their turns would run at the same time.
    replicas = [LockStore.create(lock_config) for _ in range(12)]
    for round_ in range(3):
        sender = f"scaled-test-{uuid.uuid4().hex}"
        tickets = at_once(12, lambda i, s=sender: replicas[i].issue_ticket(s, 60))
        assert sorted(tickets) == list(range(12)), (round_, tickets)
        lock = replicas[0].get_lock(sender)
        assert lock is not None and len(lock.tickets) == 12
        assert 0 < replicas[0].red.ttl(replicas[0].key_prefix + sender) <= 60 + 61
        replicas[0].delete_lock(sender)


def test_a_release_never_deletes_a_ticket_taken_meanwhile(lock_config) -> None:  # type: ignore[no-untyped-def]
    replicas = [LockStore.create(lock_config) for _ in range(8)]
    for _ in range(5):
        sender = f"scaled-test-{uuid.uuid4().hex}"
        first = replicas[0].issue_ticket(sender, 60)

        def work(index: int, sender: str = sender, first: int = first) -> int | None:
            if index == 0:
                replicas[0].cleanup(sender, first)
                return None
            return replicas[index].issue_ticket(sender, 60)

        issued = [t for t in at_once(8, work) if t is not None]
        lock = replicas[0].get_lock(sender)
        assert lock is not None
        assert sorted(t.number for t in lock.tickets) == sorted(issued)
        replicas[0].delete_lock(sender)
