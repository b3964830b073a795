"""Per-sender message rate limits for the channels (abuse, runaway scripts).

A fixed window per sender: at most ``limit`` messages per ``window_s`` seconds
(``RATE_LIMIT_MESSAGES`` / ``RATE_LIMIT_WINDOW_S``, default 20 per 60 s — far above a
person typing). In-process by default; with a Redis URL the count is shared by every
replica. There the count and its expiry are one atomic call (``COUNT_SCRIPT``): with
``INCR`` and ``EXPIRE`` as two calls, a lost ``EXPIRE`` (a crash or a dropped connection
between them) left a key that never expired and limited its sender for good; the script
also gives such a key, left by the old code, its expiry back. A limited message gets a
polite answer and does not reach the bot; other senders are not affected.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

logger = logging.getLogger(__name__)

RATE_LIMITED_TEXT = "发得有点快，请稍等一会儿再发。"
TOO_LONG_TEXT = "这条消息太长了，请挑重点、控制在{max}字以内再发一次。"
# Long enough for a whole story with a question in it (the NLU keeps what carries the
# meaning); beyond it a message is refused politely.
MAX_MESSAGE_CHARS = int(os.environ.get("MAX_MESSAGE_CHARS", "6000"))

# KEYS[1]: the sender's key; ARGV[1]: the window in milliseconds. Counts the message and,
# when the key has no expiry (a new window, or a key left without one), sets it: the
# window is fixed, further messages do not extend it.
COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
"""


class RateLimiter:
    def __init__(self, limit: int | None = None, window_s: float | None = None,
                 redis_url: str | None = None, max_keys: int = 100_000) -> None:
        self.limit = limit or int(os.environ.get("RATE_LIMIT_MESSAGES", "20"))
        self.window_s = window_s or float(os.environ.get("RATE_LIMIT_WINDOW_S", "60"))
        self.redis_url = redis_url or None
        self._counts: dict[str, tuple[float, int]] = {}
        self._max_keys = max_keys
        self._redis: Any = None

    async def allow(self, channel: str, sender_id: str) -> bool:
        """Counts this message; False once the sender is over the limit in this window."""
        key = f"ratelimit:{channel}:{sender_id}"
        try:
            if self.redis_url:
                return await self._allow_redis(key)
        except Exception:  # noqa: BLE001 - a limit must never stop the service
            logger.exception("rate limit store unavailable: message allowed")
            return True
        return self._allow_memory(key)

    def _allow_memory(self, key: str) -> bool:
        now = time.monotonic()
        start, count = self._counts.get(key, (now, 0))
        if now - start >= self.window_s:
            start, count = now, 0
        if key not in self._counts and len(self._counts) >= self._max_keys:
            self._forget_old(now)
        self._counts[key] = (start, count + 1)
        return count + 1 <= self.limit

    def _forget_old(self, now: float) -> None:
        for key in [k for k, (start, _) in self._counts.items() if now - start >= self.window_s]:
            del self._counts[key]
        while len(self._counts) >= self._max_keys:  # still full: drop the oldest windows
            del self._counts[min(self._counts, key=lambda k: self._counts[k][0])]

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.close()
            self._redis = None

    async def _allow_redis(self, key: str) -> bool:
        import redis.asyncio as redis_asyncio

        if self._redis is None:
            self._redis = redis_asyncio.from_url(self.redis_url)
        window_ms = max(1, int(self.window_s * 1000))
        count = await self._redis.eval(COUNT_SCRIPT, 1, key, window_ms)
        return int(count) <= self.limit
