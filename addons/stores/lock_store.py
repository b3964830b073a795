"""Rasa's Redis lock store with atomic ticket updates, for several rasa replicas.

Rasa 3.6's ``RedisLockStore`` changes a conversation's ticket lock with a plain
read-modify-write (GET, change in Python, SET). Two replicas taking a ticket for the
same merchant at the same moment both read "no lock", both write a lock holding ticket
0, and both run their turn at once: the tracker store then keeps the events of only
one of them (the other turn is answered but lost). A release racing with a new ticket
can delete the newcomer's ticket the same way. ``AtomicRedisLockStore`` makes each of
these changes one optimistic Redis transaction (WATCH / MULTI / EXEC, retried when
another replica changed the lock in between), and gives every lock key an expiry after
its last ticket, so a replica killed mid-turn leaves no key behind for good.

Configured in endpoints.scaled.yml as ``type: addons.stores.lock_store.AtomicRedisLockStore``
with the keys of Rasa's ``redis`` lock store (url, port, db, key_prefix, ...).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")
# A lock key outlives its last ticket by this long (seconds), then Redis drops it.
KEY_GRACE_S = 60


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa builds a custom lock store as cls(endpoint_config=...).
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs,
                      **kwargs}
        super().__init__(**kwargs)

    def _change(self, conversation_id: str,
                change: Callable[[TicketLock | None], tuple[TicketLock | None, T]]) -> T:
        """Applies ``change`` (old lock → new lock or None to delete, result) atomically."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    new, result = change(lock)
                    pipe.multi()
                    if new is None or not new.tickets:
                        pipe.delete(key)
                    else:
                        last = max(ticket.expires for ticket in new.tickets)
                        ttl = max(1, math.ceil(last - time.time())) + KEY_GRACE_S
                        pipe.set(key, new.dumps(), ex=ttl)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another replica changed this lock: read it again

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def take(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, take)
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def release(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, release)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # Release and, when nobody waits, delete in one step: a ticket issued in between
        # makes the transaction retry instead of being deleted with the lock.
        def release(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, release)
