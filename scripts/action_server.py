"""The action server (rasa_sdk), answering only callers that hold the shared secret.

    python scripts/action_server.py --port 5055 [--actions actions]

Every request but ``GET /health`` must carry the secret in the ``X-Actions-Secret``
header (compared in constant time); anything else is answered 401 before an action is
looked up or run. The secret is ``ACTIONS_SECRET``, else ``var/secrets/actions_secret``
(made on first use, 0600). The rasa server sends it from ``endpoints.yml``
(``action_endpoint.headers``: Rasa's ``EndpointConfig`` adds them to every action call).

rasa_sdk 3.6 builds its Sanic app inside ``rasa_sdk.endpoint.run`` and then calls the
``attach_sanic_app_extensions`` hook of its plugin manager: the check is registered there.
"""

from __future__ import annotations

import hmac
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pluggy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.local_secrets import local_secret  # noqa: E402

HEADER = "X-Actions-Secret"
OPEN_PATHS = frozenset({"/health"})
hookimpl = pluggy.HookimplMarker("rasa_sdk")
logger = logging.getLogger(__name__)


def refuses(secret: str, path: str, given: str | None) -> bool:
    """True when a request for ``path`` with header value ``given`` must be refused."""
    if path in OPEN_PATHS:
        return False
    return not hmac.compare_digest((given or "").encode("utf-8"), secret.encode("utf-8"))


class SharedSecret:
    """rasa_sdk plugin: a request middleware that checks the header."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the action server needs a non-empty shared secret")
        self.secret = secret

    @hookimpl
    def attach_sanic_app_extensions(self, app: Any) -> None:
        from sanic import response

        async def check(request: Any) -> Any:
            if refuses(self.secret, request.path, request.headers.get(HEADER)):
                logger.warning("action server: refused %s %s without the shared secret",
                               request.method, request.path)
                return response.json({"error": "unauthorized"}, status=401)
            return None

        app.register_middleware(check, "request")


def main(arguments: list[str]) -> None:
    from rasa_sdk.__main__ import main_from_args
    from rasa_sdk.endpoint import create_argument_parser
    from rasa_sdk.plugin import plugin_manager

    args = create_argument_parser().parse_args(arguments)
    args.actions = args.actions or "actions"
    # As `rasa run actions` does: the project's packages from the working directory.
    sys.path.insert(1, os.getcwd())
    plugin_manager().register(SharedSecret(local_secret("actions_secret", "ACTIONS_SECRET")))
    main_from_args(args)


if __name__ == "__main__":
    main(sys.argv[1:])
