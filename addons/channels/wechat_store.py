"""Short-lived state of the WeChat channel: message claims and results, image MediaIds
and the access token (numbered choices are read from the conversation itself:
``addons.typed_choices``).

In-process by default. With several rasa replicas a WeChat retry can land on another
replica, so the state must be shared: configure ``redis_url`` and every replica sees the
same claims (``SET NX`` with a TTL), results, images and token.
"""

from __future__ import annotations

import heapq
import json
import logging
import time
from abc import ABC, abstractmethod
from typing import Any

from addons.channels.wechat_loops import PerLoop

logger = logging.getLogger(__name__)

PENDING = "pending"
DONE = "done"
DEFERRED = "deferred"


class KeyValueStore(ABC):
    """The few key-value operations the channel needs, all with expiry."""

    @abstractmethod
    async def claim(self, key: str, value: str, ttl_s: float) -> bool:
        """Set ``key`` only if it does not exist; True if this caller set it."""

    @abstractmethod
    async def get(self, key: str) -> str | None: ...

    @abstractmethod
    async def set(self, key: str, value: str, ttl_s: float) -> None: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    async def close(self) -> None:
        """Release connections (nothing to do in-process)."""
        return None


class MemoryStore(KeyValueStore):
    """One process only: fine for a single rasa server, wrong for replicas."""

    def __init__(self, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._data: dict[str, tuple[str, float]] = {}
        self._max_keys = max_keys

    def _make_room(self, key: str) -> None:
        """Before ``key`` is added: at most ``max_keys`` keys once it is in, never more."""
        if key in self._data or len(self._data) < self._max_keys:
            return
        now = time.monotonic()
        for stale in [k for k, (_, expires) in self._data.items() if expires <= now]:
            del self._data[stale]
        excess = len(self._data) + 1 - self._max_keys
        if excess > 0:
            # Bounded memory even if keys never expire in time: drop the soonest-expiring.
            soonest = heapq.nsmallest(excess, self._data.items(), key=lambda kv: kv[1][1])
            for old, _ in soonest:
                del self._data[old]

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            del self._data[key]
            return None
        return item[0]

    async def claim(self, key: str, value: str, ttl_s: float) -> bool:
        # No await between the check and the set: atomic within the event loop.
        if self._live(key) is not None:
            return False
        self._make_room(key)
        self._data[key] = (value, time.monotonic() + ttl_s)
        return True

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl_s: float) -> None:
        self._make_room(key)
        self._data[key] = (value, time.monotonic() + ttl_s)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)


class RedisStore(KeyValueStore):
    """Shared by every replica; the client is created lazily on the running event loop."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis_asyncio

        self.url = url
        # A redis.asyncio client belongs to the loop it was first used on: one per loop,
        # and the one of a previous loop is closed.
        self._clients: PerLoop[redis_asyncio.Redis] = PerLoop(
            lambda: redis_asyncio.from_url(url, decode_responses=True),
            lambda client: client.close(close_connection_pool=True),
            "Redis client",
        )

    def _redis(self) -> Any:
        return self._clients.get()

    @staticmethod
    def _ms(ttl_s: float) -> int:
        return max(1, int(ttl_s * 1000))

    async def claim(self, key: str, value: str, ttl_s: float) -> bool:
        return bool(await self._redis().set(key, value, nx=True, px=self._ms(ttl_s)))

    async def get(self, key: str) -> str | None:
        return await self._redis().get(key)

    async def set(self, key: str, value: str, ttl_s: float) -> None:
        await self._redis().set(key, value, px=self._ms(ttl_s))

    async def delete(self, key: str) -> None:
        await self._redis().delete(key)

    async def close(self) -> None:
        await self._clients.close()


def create_store(redis_url: str | None) -> KeyValueStore:
    return RedisStore(redis_url) if redis_url else MemoryStore()


class ChannelState:
    """Typed access to the store, namespaced per official account."""

    def __init__(
        self,
        store: KeyValueStore,
        namespace: str = "wechat",
        dedup_ttl_s: float = 300.0,
        media_ttl_s: float = 3 * 24 * 3600.0,
        max_media: int = 10,
    ) -> None:
        self.store = store
        self.namespace = namespace
        self.dedup_ttl_s = dedup_ttl_s
        # WeChat keeps temporary media for 3 days: a MediaId is useless after that.
        self.media_ttl_s = media_ttl_s
        self.max_media = max_media

    def _key(self, kind: str, name: str) -> str:
        return f"{self.namespace}:{kind}:{name}"

    # --- message claims and results (retries) ------------------------------------
    async def claim_message(self, message_key: str) -> bool:
        """True for the first delivery of a message; False for every retry."""
        value = json.dumps({"state": PENDING})
        return await self.store.claim(self._key("msg", message_key), value, self.dedup_ttl_s)

    async def message_result(self, message_key: str) -> dict[str, Any] | None:
        raw = await self.store.get(self._key("msg", message_key))
        return json.loads(raw) if raw else None

    async def finish_message(self, message_key: str, state: str, reply: str = "") -> None:
        value = json.dumps({"state": state, "reply": reply}, ensure_ascii=False)
        await self.store.set(self._key("msg", message_key), value, self.dedup_ttl_s)

    # --- signed requests: one signature, one request ------------------------------------
    async def accept_signed(self, signed: str, fingerprint: str, ttl_s: float) -> bool:
        """True for the first request under the signature ``signed`` and for a resend of
        that same request (same ``fingerprint``: WeChat's retries); False for anything
        else signed with it. Atomic across replicas (``claim`` is SET NX with a TTL)."""
        key = self._key("sig", signed)
        if await self.store.claim(key, fingerprint, ttl_s):
            return True
        return await self.store.get(key) == fingerprint

    # --- images the merchant sent (appeal material) ------------------------------------
    async def add_media(self, openid: str, item: dict[str, Any]) -> None:
        items = [i for i in await self.media(openid) if i.get("media_id") != item.get("media_id")]
        items = (items + [item])[-self.max_media :]
        await self.store.set(
            self._key("media", openid), json.dumps(items, ensure_ascii=False), self.media_ttl_s
        )

    async def media(self, openid: str) -> list[dict[str, Any]]:
        raw = await self.store.get(self._key("media", openid))
        return list(json.loads(raw)) if raw else []

    # --- access token (shared by replicas) ----------------------------------------------
    async def access_token(self, app_id: str) -> str | None:
        return await self.store.get(self._key("token", app_id))

    async def set_access_token(self, app_id: str, token: str, ttl_s: float) -> None:
        await self.store.set(self._key("token", app_id), token, ttl_s)

    async def drop_access_token(self, app_id: str, token: str) -> None:
        # Only drop the token that failed: another replica may already hold a fresh one.
        if await self.access_token(app_id) == token:
            await self.store.delete(self._key("token", app_id))
