"""Leased lock tickets (addons/stores/lock_store.py) against the real Redis: a killed
holder frees its merchant within seconds, a live one is never overtaken however long its
turn, queued turns keep their order, a holder that lost its ticket is stopped, and no
key is left behind."""

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
from rasa.core.lock_store import LockError, LockStore

from addons.stores.lock_store import (
    DEFAULT_LEASE_S,
    KEY_GRACE_S,
    AtomicRedisLockStore,
    _Hold,
)
from tests.scaled.conftest import TEST_REDIS_DB, read_scaled_endpoints, require
from tests.scaled.lock_recovery import kill, spawn_holder

pytestmark = pytest.mark.redis


@pytest.fixture()
def replica() -> Callable[..., AtomicRedisLockStore]:
    """A new lock store, as one rasa replica has it (``lease_s`` as given)."""
    require("Redis", "127.0.0.1", 6379)

    def make(lease_s: float | None = None) -> AtomicRedisLockStore:
        return AtomicRedisLockStore(host="127.0.0.1", port=6379, db=TEST_REDIS_DB,
                                    key_prefix="msa", socket_timeout=5, lease_s=lease_s)

    return make


def conversation() -> str:
    return f"lease-test-{uuid.uuid4().hex}"


def no_key(store: AtomicRedisLockStore, sender: str) -> bool:
    return not store.red.exists(store.key_prefix + sender)


def in_thread(work: Callable[[], Awaitable[Any]]) -> threading.Thread:
    """Runs ``work`` on an event loop of its own (another replica, whose loop goes on
    while this one is blocked)."""
    thread = threading.Thread(target=lambda: asyncio.run(work()), daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_the_scaled_lock_store_leases_its_tickets(scaled_env: None) -> None:
    require("Redis", "127.0.0.1", 6379)
    store = LockStore.create(read_scaled_endpoints().lock_store)
    assert isinstance(store, AtomicRedisLockStore)
    assert store.lease_s == DEFAULT_LEASE_S
    assert store.renew_every_s == pytest.approx(DEFAULT_LEASE_S / 3)


async def test_a_killed_holder_lets_the_next_waiter_in_within_seconds(replica) -> None:  # type: ignore[no-untyped-def]
    store, sender = replica(), conversation()  # the production lease (3 s)
    holder = spawn_holder(sender, TEST_REDIS_DB)  # another process, SIGKILLed below
    try:
        entered: list[float] = []

        async def waiter() -> None:
            async with store.lock(sender):
                entered.append(time.time())

        waiting = asyncio.ensure_future(waiter())
        # Longer than a lease: the live holder renews and is not overtaken.
        await asyncio.sleep(store.lease_s + 1.5)
        assert not entered, "a live holder was overtaken"
        ttl = store.red.ttl(store.key_prefix + sender)
        assert 0 < ttl <= math.ceil(store.lease_s) + KEY_GRACE_S
        killed_at = time.time()
        kill(holder)
        await asyncio.wait_for(waiting, 10)
        recovery = entered[0] - killed_at
        assert recovery < 5.0, f"the next turn waited {recovery:.2f} s after the kill"
        assert no_key(store, sender)
    finally:
        kill(holder)


async def test_a_thirty_second_turn_keeps_its_lock_through_renewals(replica) -> None:  # type: ignore[no-untyped-def]
    # The slowest action (30 s), with the event loop blocked for longer than a lease in
    # the middle (the SQL tracker store's synchronous queries): the other replica, on a
    # loop of its own, waits all along.
    mine, other, sender = replica(), replica(), conversation()
    events: list[tuple[str, float]] = []

    async def other_replica() -> None:
        await asyncio.sleep(0.5)
        async with other.lock(sender):
            events.append(("other in", time.time()))

    async with mine.lock(sender):
        events.append(("mine in", time.time()))
        waiting = in_thread(other_replica)
        await asyncio.sleep(12)
        time.sleep(mine.lease_s + 2)  # noqa: ASYNC251 - a blocked event loop on purpose
        await asyncio.sleep(30 - 12 - (mine.lease_s + 2))
        events.append(("mine out", time.time()))
    waiting.join(timeout=10)
    assert [name for name, _ in events] == ["mine in", "mine out", "other in"], events
    assert events[1][1] - events[0][1] >= 30
    assert no_key(mine, sender)


async def test_queued_turns_are_served_in_the_order_they_came(replica) -> None:  # type: ignore[no-untyped-def]
    # Leases of 1.5 s and a first turn of 4 s: every waiter keeps its place in the queue
    # through renewals although it waits for longer than a lease (0.6 s leases missed a
    # renewal on a loaded 2-core CI machine).
    replicas = [replica(1.5), replica(1.5)]
    sender = conversation()
    order: list[str] = []
    inside = 0

    async def turn(name: str, store: AtomicRedisLockStore, hold_s: float) -> None:
        nonlocal inside
        async with store.lock(sender):
            inside += 1
            assert inside == 1, "two turns of one conversation at once"
            order.append(name)
            await asyncio.sleep(hold_s)
            inside -= 1

    tasks = [asyncio.ensure_future(turn("first", replicas[0], 4.0))]
    for index in range(6):
        await asyncio.sleep(0.1)  # each takes its ticket after the one before
        tasks.append(asyncio.ensure_future(turn(f"w{index}", replicas[index % 2], 0.1)))
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert order == ["first"] + [f"w{index}" for index in range(6)]
    assert no_key(replicas[0], sender)


async def test_a_waiter_not_served_within_the_lock_lifetime_gets_lock_error(replica) -> None:  # type: ignore[no-untyped-def]
    store, sender = replica(0.6), conversation()
    served: list[str] = []

    async def first() -> None:
        async with store.lock(sender):
            await asyncio.sleep(2.5)
            served.append("first")

    holding = asyncio.ensure_future(first())
    await asyncio.sleep(0.1)
    started = time.monotonic()
    with pytest.raises(LockError):
        async with store.lock(sender, lock_lifetime=1.0):
            served.append("second")
    assert 0.9 <= time.monotonic() - started < 2.0
    lock = store.get_lock(sender)
    assert lock is not None and len(lock.tickets) == 1  # its ticket is gone, not the first's
    await holding
    assert served == ["first"]
    assert no_key(store, sender)


async def test_a_holder_whose_ticket_was_taken_away_is_stopped(replica) -> None:  # type: ignore[no-untyped-def]
    store, sender = replica(0.6), conversation()
    went_on: list[bool] = []
    started = time.monotonic()
    with pytest.raises(LockError, match="ticket is gone"):
        async with store.lock(sender):
            store.red.delete(store.key_prefix + sender)  # e.g. Redis lost its data
            await asyncio.sleep(10)
            went_on.append(True)
    assert not went_on
    assert time.monotonic() - started < 1.5
    assert no_key(store, sender)


async def test_a_holder_that_cannot_renew_stops_before_its_lease_ends(replica) -> None:  # type: ignore[no-untyped-def]
    store, sender = replica(0.9), conversation()
    # The heartbeat's Redis does not answer (nothing listens on port 1); the rest does.
    store._beat_red = redis.StrictRedis(host="127.0.0.1", port=1, socket_timeout=0.2,
                                        socket_connect_timeout=0.2)
    went_on: list[bool] = []
    with pytest.raises(LockError, match="could not be renewed in time"):
        async with store.lock(sender):
            lock = store.get_lock(sender)
            assert lock is not None
            expires = lock.tickets[0].expires
            await asyncio.sleep(10)
            went_on.append(True)
    stopped_at = time.time()
    assert not went_on
    assert stopped_at < expires, "stopped only after its ticket could be taken over"
    assert no_key(store, sender)


async def test_a_turn_longer_than_the_lock_lifetime_is_stopped_before_it_lets_go(replica) -> None:  # type: ignore[no-untyped-def]
    # Leases long enough that a waiter's renewal survives a busy machine (a 0.6 s lease
    # renewed every 0.2 s expired under a loaded CI run).
    store, other, sender = replica(1.2), replica(1.2), conversation()
    events: list[str] = []

    async def hung_turn() -> None:
        try:
            async with store.lock(sender, lock_lifetime=3.0):
                events.append("hung in")
                try:
                    await asyncio.sleep(30)
                finally:
                    events.append("hung stopped")
        except LockError:
            events.append("hung LockError")

    async def next_turn() -> None:
        await asyncio.sleep(0.2)
        async with other.lock(sender):
            events.append("next in")

    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(hung_turn(), next_turn()), 15)
    assert events == ["hung in", "hung stopped", "hung LockError", "next in"]
    assert time.monotonic() - started < 6.0
    assert no_key(store, sender)


def test_a_stale_holder_never_renews_or_releases_a_newer_ticket_with_its_number(replica) -> None:  # type: ignore[no-untyped-def]
    # A holder frozen past its lease comes back; meanwhile the lock was emptied and ticket
    # 0 handed out again. Its number matches, its expiry does not: left alone.
    stale, fresh, sender = replica(0.6), replica(0.6), conversation()
    number = fresh.issue_ticket(sender, 60)
    assert number == 0
    before = fresh.get_lock(sender)
    assert before is not None
    hold = _Hold(sender, 0, frozenset({time.time() - 5}), time.time() - 5,
                 asyncio.new_event_loop(), None)
    assert stale._renew(hold) is False
    stale._release(hold)
    after = fresh.get_lock(sender)
    assert after is not None
    assert [(t.number, t.expires) for t in after.tickets] == [
        (t.number, t.expires) for t in before.tickets]
    fresh.cleanup(sender, number)
    assert no_key(fresh, sender)
    hold.loop.close()
