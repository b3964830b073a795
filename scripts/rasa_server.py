"""``rasa <command> ...`` with the HTTP API token taken from the environment, not the
command line (where ``ps`` shows it to every local user).

    python scripts/rasa_server.py run --enable-api --model ... --endpoints ...

The token is ``RASA_TOKEN``, else ``var/secrets/rasa_token`` (made on first use, 0600).
Rasa 3.6 reads it only as the ``--auth-token`` argument (``rasa.cli.run`` hands
``args.auth_token`` to ``rasa.api.run``, then ``rasa.server.create_app``), so it is
appended to this process's own ``sys.argv`` before Rasa parses it: ``/proc/<pid>/cmdline``
keeps the arguments the process was started with.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.local_secrets import local_secret  # noqa: E402

TOKEN_OPTION = "--auth-token"


def rasa_argv(arguments: list[str], token: str) -> list[str]:
    """Rasa's own argument list: ``arguments`` and the token.

    Joined with ``=``: a generated token may start with ``-`` (``token_urlsafe``), which
    argparse would read as another option after a separate ``--auth-token``.
    """
    if any(arg == TOKEN_OPTION or arg.startswith(f"{TOKEN_OPTION}=") for arg in arguments):
        raise SystemExit(f"rasa_server: pass the token in RASA_TOKEN, not {TOKEN_OPTION}")
    return ["rasa", *arguments, f"{TOKEN_OPTION}={token}"]


def main(arguments: list[str]) -> None:
    sys.argv = rasa_argv(arguments, local_secret("rasa_token", "RASA_TOKEN"))
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main(sys.argv[1:])
