"""Passwords (argon2), session tokens (only their hash is stored), CSRF tokens, the
login throttle (slow-down, then a lock) that treats unknown usernames like known ones,
and the gate that bounds how many sign-ins hash passwords at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against for unknown usernames, so both cases cost one argon2 verification.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_CHARS = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is a hash to check."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_token(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


@dataclass(frozen=True)
class LoginPolicy:
    lock_after: int = 5
    lock_for: dt.timedelta = dt.timedelta(minutes=15)
    slowdown_base_s: float = 0.5
    slowdown_max_s: float = 4.0

    def delay_after(self, failures: int) -> float:
        """Seconds to hold the answer to the ``failures``-th wrong password in a row."""
        if failures <= 0:
            return 0.0
        return min(self.slowdown_max_s, self.slowdown_base_s * 2 ** (failures - 1))


@dataclass
class Strikes:
    failures: int = 0
    locked_until: dt.datetime | None = None


class UnknownUserStrikes:
    """Failures for usernames that have no account, kept in memory (bounded), so that
    guessing a name sees exactly what guessing a password sees: slow-down, then a lock."""

    def __init__(self, max_names: int = 10_000) -> None:
        self._names: OrderedDict[str, Strikes] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_names

    def get(self, username: str) -> Strikes:
        with self._lock:
            strikes = self._names.get(username)
            return Strikes(strikes.failures, strikes.locked_until) if strikes else Strikes()

    def put(self, username: str, strikes: Strikes) -> None:
        with self._lock:
            self._put(username, strikes)

    def fail(self, username: str, policy: LoginPolicy, now: dt.datetime) -> Strikes:
        """One more failure for ``username``, read and written under one lock: wrong
        passwords sent at the same moment all count, as they do for a real account
        (its row is locked while it is updated)."""
        with self._lock:
            strikes = register_failure(self._names.get(username) or Strikes(), policy, now)
            self._put(username, strikes)
            return Strikes(strikes.failures, strikes.locked_until)

    def _put(self, username: str, strikes: Strikes) -> None:
        self._names[username] = strikes
        self._names.move_to_end(username)
        while len(self._names) > self._max:
            self._names.popitem(last=False)


def register_failure(strikes: Strikes, policy: LoginPolicy, now: dt.datetime) -> Strikes:
    """One more wrong password: the lock starts at the ``lock_after``-th failure."""
    failures = strikes.failures + 1
    if failures >= policy.lock_after:
        return Strikes(0, now + policy.lock_for)
    return Strikes(failures, None)


def is_locked(strikes: Strikes, now: dt.datetime) -> bool:
    return strikes.locked_until is not None and strikes.locked_until > now


class LoginBusy(Exception):
    """Too many sign-ins at once: the caller is asked to try again in a few seconds."""


class LoginGate:
    """At most ``slots`` sign-ins hash a password and touch the database at once (argon2
    takes ~64 MiB and tens of milliseconds each); up to ``queue`` more wait, each at most
    ``wait_s``; the rest are answered at once with ``LoginBusy``. Without it a burst of
    sign-ins queued on the database's write lock until its timeout and answered 500."""

    def __init__(self, slots: int, queue: int, wait_s: float) -> None:
        self.slots, self.queue, self.wait_s = slots, queue, wait_s
        self._waiting = 0
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_env(cls) -> LoginGate:
        return cls(slots=int(os.environ.get("CONSOLE_LOGIN_SLOTS") or min(4, os.cpu_count() or 1)),
                   queue=int(os.environ.get("CONSOLE_LOGIN_QUEUE") or 64),
                   wait_s=float(os.environ.get("CONSOLE_LOGIN_WAIT_S") or 5))

    def _semaphore_here(self) -> asyncio.Semaphore:
        # One semaphore per event loop (tests serve one app from several loops).
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._semaphore, self._loop, self._waiting = asyncio.Semaphore(self.slots), loop, 0
        return self._semaphore

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        semaphore = self._semaphore_here()
        if semaphore.locked() and self._waiting >= self.queue:
            raise LoginBusy
        self._waiting += 1
        try:
            await asyncio.wait_for(semaphore.acquire(), self.wait_s)
        except asyncio.TimeoutError:
            raise LoginBusy from None
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            semaphore.release()
