"""One network client per event loop (the aiohttp session, the Redis client).

Such clients belong to the event loop they were made on. The channel makes one lazily on
the running loop and shares it for every call; when the running loop changes (tests, a
server restarted in the same process) the old client is closed and a new one made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Client = TypeVar("Client")


class PerLoop(Generic[Client]):
    def __init__(
        self,
        make: Callable[[], Client],
        close: Callable[[Client], Awaitable[object]],
        what: str,
        usable: Callable[[Client], bool] = lambda client: True,
    ) -> None:
        self._make = make
        self._close = close
        self._usable = usable
        self.what = what
        self._client: Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Closings of replaced clients that have not finished yet.
        self._closing: set[asyncio.Future] = set()

    def get(self) -> Client:
        """The client of the running event loop, made on first use."""
        loop = asyncio.get_running_loop()
        client = self._client
        if client is not None and self._loop is loop and self._usable(client):
            return client
        if client is not None and self._loop is not loop:
            self._retire(client, self._loop)
        self._client = self._make()
        self._loop = loop
        return self._client

    async def close(self) -> None:
        """Close the client (and wait for replaced ones still closing); made anew on use."""
        client, owner = self._client, self._loop
        self._client = self._loop = None
        if client is not None:
            if owner is asyncio.get_running_loop():
                await self._close_quietly(client)
            else:
                self._retire(client, owner)
        loop = asyncio.get_running_loop()
        closing = [future for future in self._closing if future.get_loop() is loop]
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)

    def _retire(self, client: Client, owner: asyncio.AbstractEventLoop | None) -> None:
        """Close a client made on ``owner``, which is no longer the running loop."""
        if owner is not None and owner.is_running():
            # That loop runs in another thread: close the client there, where its sockets are.
            future = asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(self._close_quietly(client), owner)
            )
        else:
            # That loop has stopped: close from here. On a closed loop the transports cannot
            # close themselves any more (expect an error, logged at debug level); the client
            # is let go and its sockets are released when they are collected.
            gone = owner is None or owner.is_closed()
            future = asyncio.ensure_future(self._close_quietly(client, expect_errors=gone))
        self._closing.add(future)
        future.add_done_callback(self._closing.discard)

    async def _close_quietly(self, client: Client, expect_errors: bool = False) -> None:
        try:
            await self._close(client)
        except Exception as error:  # noqa: BLE001 - closing must not break the caller
            logger.log(logging.DEBUG if expect_errors else logging.WARNING,
                       "wechat: %s not closed cleanly: %s: %s", self.what,
                       type(error).__name__, error)
