"""Passwords (argon2), session tokens (only their hash is stored), CSRF tokens and the
login throttle (slow-down, then a lock) that treats unknown usernames like known ones."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
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
