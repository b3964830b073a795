"""The REST channel under a second name, for the shared test stack (tests/stack.py).

One credentials section per class path: this subclass lets one rasa server run the REST
channel twice, here with a shared secret and a small rate limit (``rate_limit_messages``;
the real channel reads ``RATE_LIMIT_MESSAGES``, which would apply to every channel of the
process), while the main REST channel stays as `make run` has it for the other tests.
"""

from __future__ import annotations

from typing import Any

from addons.channels.rate_limit import RateLimiter
from addons.channels.rest import RestInput


class LockedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest_locked"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RestInput:
        channel = super().from_credentials(credentials)
        limit = (credentials or {}).get("rate_limit_messages")
        if limit:
            channel.rate_limiter = RateLimiter(limit=int(limit),
                                               redis_url=channel.rate_limiter.redis_url)
        return channel
