"""``python -m console``: serve the agent console with uvicorn (settings: README)."""

from __future__ import annotations

import uvicorn

from console.app import create_app
from console.config import Settings


def main() -> None:
    settings = Settings.from_env()
    # No WebSocket routes (live updates are server-sent events); Rasa pins websockets 10,
    # which uvicorn's WebSocket support would fail to import.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                proxy_headers=True, log_level="info", ws="none")


if __name__ == "__main__":
    main()
