"""The channel inside a real Sanic server in the test's own event loop.

Mounted the way rasa mounts it (``rasa.core.channels.channel.register``), on a free port
of 127.0.0.1, and stopped the way Sanic stops a worker: ``before_server_stop`` listeners,
close the listening socket, close idle connections, ``after_server_stop`` listeners.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from rasa.core.channels.channel import register
from sanic import Sanic
from sanic.server.async_server import AsyncioServer

from addons.channels.wechat import WeChatInput

# Sanic rewrites some of its own methods when a server starts ("touch-up"); in test mode it
# keeps the originals, so that several servers can start in one process (as sanic-testing
# does).
Sanic.test_mode = True


@dataclass
class RunningServer:
    app: Sanic
    server: AsyncioServer
    port: int
    stopped: bool = False

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/wechat/webhook"

    async def stop(self) -> None:
        """What Sanic's worker does when it is told to stop (see sanic.server.runners)."""
        if self.stopped:
            return
        self.stopped = True
        await self.server.before_stop()
        self.server.close()
        await self.server.wait_closed()
        for connection in list(self.server.connections):
            connection.close_if_idle()
        await self.server.after_stop()


@asynccontextmanager
async def serving(channel: WeChatInput, bot: Any) -> AsyncIterator[RunningServer]:
    """``bot`` stands in for ``agent.handle_message``, which rasa's handler calls."""
    app = Sanic(f"wechat_test_{uuid.uuid4().hex[:12]}")
    app.ctx.agent = SimpleNamespace(handle_message=bot)
    register([channel], app, route="/webhooks/")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    running = RunningServer(app, server, port)
    try:
        yield running
    finally:
        await running.stop()
