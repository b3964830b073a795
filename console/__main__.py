"""``python -m console``: serve the agent console with uvicorn (settings: README)."""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from console.app import create_app
from console.config import Settings
from console.deps import DirectPeer


def served(app: Any) -> Any:
    """The app as uvicorn serves it: its proxy headers (X-Forwarded-Proto/-For from
    FORWARDED_ALLOW_IPS, default 127.0.0.1, as ``proxy_headers=True`` does) inside
    ``DirectPeer``, which keeps the address that connected for the Origin check
    (``deps.same_origin``: X-Forwarded-Host only from CONSOLE_TRUSTED_PROXIES)."""
    forwarders = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    return DirectPeer(ProxyHeadersMiddleware(app, trusted_hosts=forwarders))


def main() -> None:
    settings = Settings.from_env()
    # No WebSocket routes (live updates are server-sent events); Rasa pins websockets 10,
    # which uvicorn's WebSocket support would fail to import.
    uvicorn.run(served(create_app(settings)), host=settings.host, port=settings.port,
                proxy_headers=False, log_level="info", ws="none")


if __name__ == "__main__":
    main()
