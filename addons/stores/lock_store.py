"""Rasa's Redis lock store with atomic ticket updates and leased tickets, for several
rasa replicas.

Atomic updates. Rasa 3.6's ``RedisLockStore`` changes a conversation's ticket lock with
a plain read-modify-write (GET, change in Python, SET). Two replicas taking a ticket for
the same merchant at the same moment both read "no lock", both write a lock holding
ticket 0, and both run their turn at once: the tracker store then keeps the events of
only one of them (the other turn is answered but lost). A release racing with a new
ticket can delete the newcomer's ticket the same way. ``AtomicRedisLockStore`` makes
each of these changes one optimistic Redis transaction (WATCH / MULTI / EXEC, retried
when another replica changed the lock in between), and gives every lock key an expiry
shortly after its last ticket, so a replica killed mid-turn leaves no key behind.

Leased tickets. Rasa gives a ticket ``TICKET_LOCK_LIFETIME`` (60 s) from the moment it
is issued: a replica killed mid-turn blocks that merchant's next messages for a minute,
and a live turn that runs longer than the lifetime is overtaken. Here ``lock()`` (the
context manager Rasa's agent, processor and HTTP API take around every turn) issues a
ticket that lives only ``lease_s`` (``TICKET_LOCK_LEASE_S``, default 3 s) and renews it
every ``lease_s / 3`` while its holder runs or waits in the queue:

- a dead holder (SIGKILL, crash, lost machine) stops renewing; its ticket expires within
  ``lease_s`` and the next waiter is let in (it looks every ``POLL_S``);
- a live holder is never overtaken, however long its turn: the renewal runs in a thread
  of its own, so it goes on while the event loop is blocked (the SQL tracker store's
  queries are synchronous, the model's inference holds the CPU);
- each renewal is one WATCH / MULTI / EXEC transaction that extends only this holder's
  own ticket: the same number *and* the expiry this process wrote last, so a ticket
  number handed out again after the lock was emptied is never extended or released by
  the previous holder, and a ticket that already expired is never brought back;
- queued tickets keep Rasa's meaning: served in the order they were issued, a waiter
  renews its own place while it waits, a waiter whose turn has not come within
  ``lock_lifetime`` (``TICKET_LOCK_LIFETIME``) gets ``LockError`` as in Rasa, the lock
  key is deleted when the last ticket is released.

A holder that lost its ticket is stopped, never left running beside the next turn. The
ticket counts as lost when a renewal finds it gone or changed, or when renewals have
failed (Redis unreachable) until shortly before the lease ends; the turn's task is then
cancelled (at its next ``await``, so a turn that has not saved its tracker yet saves
nothing) and ``lock()`` raises ``LockError``, which the channels answer with their
"busy, send it again" text (addons/channels/rest.py). A turn still running
``lock_lifetime`` after it got the lock (a hung turn; nginx ends an action call after
15 s) is cancelled the same way, while its ticket is still renewed, so it releases the
conversation only when it has stopped. A body that swallows the cancellation still ends
in ``LockError``, and so does one that ends after its last confirmed lease.

What leases cannot do: a process frozen as a whole (SIGSTOP, a VM pause) for longer than
the lease cannot stop its own turn; when it wakes, the next turn may already run.
Guarding that needs a fencing token checked by the tracker store on save. Replicas'
clocks must agree to well within the lease (NTP): expiries are wall-clock times.

Configured in endpoints.scaled.yml as ``type: addons.stores.lock_store.AtomicRedisLockStore``
with the keys of Rasa's ``redis`` lock store (url, port, db, key_prefix, ...) and,
optionally, ``lease_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")
# A lock key outlives its last ticket by this long (seconds), then Redis drops it.
KEY_GRACE_S = 10
# A ticket's lease (seconds) unless the endpoint config or TICKET_LOCK_LEASE_S says else.
DEFAULT_LEASE_S = 3.0
MIN_LEASE_S = 0.3
# How often a waiter looks whether its turn has come (Rasa's agent passes no wait time).
POLL_S = 0.2


class _Unchanged:
    """A change that leaves the lock as it is (nothing is written)."""


UNCHANGED = _Unchanged()


def lease_from_env() -> float:
    return float(os.environ.get("TICKET_LOCK_LEASE_S") or DEFAULT_LEASE_S)


@dataclass(eq=False)
class _Hold:
    """One ticket of this process, renewed while its holder runs or waits."""

    conversation_id: str
    number: int
    # The expiries this process may have written for the ticket (two while the outcome
    # of a renewal is unknown): a ticket with another expiry is not this one.
    known: frozenset[float]
    confirmed_until: float  # the last expiry known to be stored
    loop: asyncio.AbstractEventLoop
    task: asyncio.Task[Any] | None
    holding: bool = False
    hold_deadline: float = math.inf
    active: bool = True
    renewing: bool = True  # the heartbeat's view; False once the ticket is lost
    overdue_reported: bool = False
    lost: str | None = None  # why the holder lost the conversation (set on the loop)
    renewals: int = 0
    failures: int = 0


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa builds a custom lock store as cls(endpoint_config=...).
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs,
                      **kwargs}
        lease = kwargs.pop("lease_s", None)
        super().__init__(**kwargs)
        self.lease_s = float(lease) if lease is not None else lease_from_env()
        if not self.lease_s >= MIN_LEASE_S:
            raise ValueError(f"lock store lease_s must be at least {MIN_LEASE_S} s, "
                             f"not {self.lease_s}")
        self.renew_every_s = self.lease_s / 3
        # After a failed renewal the next try comes sooner; a renewal gives up quickly
        # (the store's own socket timeout, 5 s in endpoints.scaled.yml, exceeds a lease).
        self._retry_every_s = self.renew_every_s / 4
        self._beat_timeout_s = self.renew_every_s / 2
        self._beat_red = self._client_with_timeout(self._beat_timeout_s)
        self._holds: set[_Hold] = set()
        self._holds_lock = threading.Lock()
        self._beater: threading.Thread | None = None

    def _client_with_timeout(self, timeout_s: float) -> redis.Redis:
        pool = self.red.connection_pool
        kwargs = dict(pool.connection_kwargs)
        kwargs["socket_timeout"] = min(kwargs.get("socket_timeout") or timeout_s, timeout_s)
        kwargs["socket_connect_timeout"] = timeout_s
        return redis.StrictRedis(connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class, **kwargs))

    # --- atomic changes -----------------------------------------------------------

    def _change(self, conversation_id: str,
                change: Callable[[TicketLock | None], tuple[Any, T]],
                client: redis.Redis | None = None) -> T:
        """Applies ``change`` (old lock → new lock, None to delete or UNCHANGED; result)
        atomically."""
        key = self.key_prefix + conversation_id
        with (client or self.red).pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    new, result = change(lock)
                    if new is UNCHANGED:
                        pipe.unwatch()
                        return result
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
        return self._issue(conversation_id, lock_lifetime)[0]

    def _issue(self, conversation_id: str, lifetime: float) -> tuple[int, float]:
        def take(lock: TicketLock | None) -> tuple[TicketLock, tuple[int, float]]:
            lock = lock or self.create_lock(conversation_id)
            number = lock.issue_ticket(lifetime)
            return lock, (number, lock.tickets[-1].expires)

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

    # --- leased tickets -----------------------------------------------------------

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = POLL_S,
    ) -> AsyncGenerator[TicketLock, None]:
        """Holds ``conversation_id`` for the body; see the module docstring.

        ``lock_lifetime`` bounds the wait for the turn and the turn itself (each);
        the ticket itself lives ``lease_s`` and is renewed meanwhile.
        """
        loop = asyncio.get_running_loop()
        number, expires = self._issue(conversation_id, self.lease_s)
        hold = _Hold(conversation_id, number, frozenset({expires}), expires, loop,
                     asyncio.current_task())
        self._start_renewing(hold)
        try:
            lock = await self._wait_for_turn(hold, lock_lifetime, wait_time_in_seconds)
            hold.hold_deadline = time.time() + lock_lifetime
            hold.holding = True
            try:
                yield lock
            except asyncio.CancelledError:
                if hold.lost is None:
                    raise  # cancelled by someone else (client gone, shutdown)
                uncancel = getattr(hold.task, "uncancel", None)  # Python >= 3.11
                if uncancel is not None:
                    uncancel()
                raise LockError(self._lost_text(hold)) from None
            if hold.lost is None and time.time() > hold.confirmed_until:
                hold.lost = "the turn ended after its last confirmed lease"
            if hold.lost is not None:
                logger.error("lock store: %s", self._lost_text(hold))
                raise LockError(self._lost_text(hold))
        finally:
            self._stop_renewing(hold)
            self._release(hold)

    @staticmethod
    def _lost_text(hold: _Hold) -> str:
        return (f"Lost the lock of conversation '{hold.conversation_id}' (ticket "
                f"{hold.number}): {hold.lost}; the turn was stopped.")

    async def _wait_for_turn(self, hold: _Hold, max_wait_s: float,
                             poll_s: float) -> TicketLock:
        deadline = time.monotonic() + max_wait_s
        while True:
            if hold.lost is not None:
                raise LockError(f"Could not acquire lock for conversation_id "
                                f"'{hold.conversation_id}': {hold.lost}.")
            lock = self.get_lock(hold.conversation_id)
            ticket = lock._ticket_for_ticket_number(hold.number) if lock else None
            if lock is None or ticket is None or ticket.expires not in hold.known:
                raise LockError(f"Could not acquire lock for conversation_id "
                                f"'{hold.conversation_id}': its ticket expired.")
            if not lock.is_locked(hold.number):
                return lock
            if time.monotonic() >= deadline:
                raise LockError(f"Could not acquire lock for conversation_id "
                                f"'{hold.conversation_id}' within {max_wait_s} s.")
            await asyncio.sleep(poll_s)

    def _release(self, hold: _Hold) -> None:
        """Removes this process's own ticket (never a newer one with its number)."""

        def release(lock: TicketLock | None) -> tuple[Any, None]:
            if lock is None:
                return UNCHANGED, None
            ticket = lock._ticket_for_ticket_number(hold.number)  # drops expired ones
            if ticket is not None and ticket.expires in hold.known:
                lock.tickets.remove(ticket)
            return (lock if lock.is_someone_waiting() else None), None

        try:
            self._change(hold.conversation_id, release)
        except redis.RedisError as error:
            # Not renewed any more: the ticket expires within the lease by itself.
            logger.warning("lock store: could not release ticket %s of '%s' (%s); it "
                           "expires within %.1f s", hold.number, hold.conversation_id,
                           error, self.lease_s)

    # --- the heartbeat --------------------------------------------------------------

    def _start_renewing(self, hold: _Hold) -> None:
        with self._holds_lock:
            self._holds.add(hold)
            if self._beater is None:
                self._beater = threading.Thread(target=self._beat, daemon=True,
                                                 name="lock-store-heartbeat")
                self._beater.start()

    def _stop_renewing(self, hold: _Hold) -> None:
        hold.active = False
        with self._holds_lock:
            self._holds.discard(hold)

    def _beat(self) -> None:
        """Renews every active ticket of this store; ends when there is none."""
        while True:
            with self._holds_lock:
                holds = [hold for hold in self._holds if hold.renewing]
                if not self._holds:
                    self._beater = None
                    return
            started = time.monotonic()
            reached = False
            try:
                reached = self._beat_once(holds)
            except Exception:  # noqa: BLE001 - the heartbeat must never die
                logger.exception("lock store: heartbeat failed")
            pause = self.renew_every_s if reached else self._retry_every_s
            time.sleep(max(0.01, pause - (time.monotonic() - started)))

    def _beat_once(self, holds: list[_Hold]) -> bool:
        """One round of renewals, then the deadlines; False if Redis did not answer."""
        reached = True
        for hold in holds:
            if not (hold.active and hold.renewing):
                continue
            try:
                renewed = self._renew(hold)
            except redis.RedisError as error:
                hold.failures += 1
                logger.warning("lock store: renewing ticket %s of '%s' failed: %s",
                               hold.number, hold.conversation_id, error)
                reached = False
                break  # Redis is the same for every ticket: all retried soon
            if not renewed:
                hold.renewing = False
                self._report(hold, "its ticket is gone (expired or removed)")
        # Every ticket, also those not tried this round: a ticket whose lease could run
        # out before the next round has a chance to renew it is given up now, while it is
        # still valid, so that its turn stops before another replica may start one.
        now = time.time()
        next_round = ((self.renew_every_s if reached else self._retry_every_s)
                      + self._beat_timeout_s + self._retry_every_s)
        for hold in holds:
            if not (hold.active and hold.renewing):
                continue
            if now + next_round >= hold.confirmed_until:
                hold.renewing = False
                self._report(hold, f"its lease of {self.lease_s:.1f} s could not be "
                                   f"renewed in time (Redis unreachable or this process "
                                   f"stalled)")
            elif hold.holding and now >= hold.hold_deadline and not hold.overdue_reported:
                hold.overdue_reported = True  # stopped, but still renewed until it ends
                self._report(hold, "the turn ran longer than the lock lifetime")
        return reached

    def _renew(self, hold: _Hold) -> bool:
        """Extends this holder's own ticket by a lease; False if it is not there."""

        def extend(lock: TicketLock | None) -> tuple[Any, bool]:
            if lock is None:
                return UNCHANGED, False
            ticket = lock._ticket_for_ticket_number(hold.number)  # drops expired ones
            if ticket is None or ticket.expires not in hold.known:
                return UNCHANGED, False
            new = time.time() + self.lease_s
            # Until EXEC answers, either value may be the stored one.
            hold.known = frozenset({ticket.expires, new})
            ticket.expires = new
            return lock, True

        renewed = self._change(hold.conversation_id, extend, client=self._beat_red)
        if renewed:
            stored = max(hold.known)
            hold.known = frozenset({stored})
            hold.confirmed_until = stored
            hold.renewals += 1
        return renewed

    def _report(self, hold: _Hold, reason: str) -> None:
        """Hands the loss over to the holder's event loop (the heartbeat is a thread)."""
        # A closed loop runs nothing any more: then there is nothing to stop.
        with contextlib.suppress(RuntimeError):
            hold.loop.call_soon_threadsafe(self._lost, hold, reason)

    @staticmethod
    def _lost(hold: _Hold, reason: str) -> None:
        if not hold.active or hold.lost is not None:
            return
        hold.lost = reason
        if hold.holding:
            logger.error("lock store: stopping the turn of '%s' (ticket %s): %s",
                         hold.conversation_id, hold.number, reason)
            if hold.task is not None:
                hold.task.cancel()
        else:
            logger.warning("lock store: the waiting ticket %s of '%s' is lost: %s",
                           hold.number, hold.conversation_id, reason)
