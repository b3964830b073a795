"""Start the action server, the rasa server and the agent console; Ctrl-C (or SIGTERM)
stops all three.

A Python supervisor instead of a shell script: background jobs of a non-interactive
shell ignore SIGINT, so a shell wrapper cannot reliably pass Ctrl-C on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.local_secrets import VAR_DIR, local_secret, secret_file, tighten  # noqa: E402

# Example tokens from this project's earlier docs: never accepted.
KNOWN_TOKENS = {"change-me-local-token", "e2e-token"}
PYTHON = str(ROOT / ".venv" / "bin" / "python")
# Launchers that keep secrets off the command line and check the action server's secret.
RASA_SERVER = str(ROOT / "scripts" / "rasa_server.py")
ACTION_SERVER = str(ROOT / "scripts" / "action_server.py")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> int:
    # Databases, logs and caches the servers create under var/ are the owner's only
    # (0600 / 0700 whatever the caller's umask); trees made before are narrowed too.
    os.umask(0o077)
    tighten(VAR_DIR)
    rasa_port = os.environ.get("RASA_PORT", "5005")
    actions_port = os.environ.setdefault("ACTIONS_PORT", "5055")  # endpoints.yml reads it
    # Local only unless told otherwise (RASA_HOST=0.0.0.0 behind a proxy or firewall).
    host = os.environ.get("RASA_HOST", "127.0.0.1")
    # The action server listens on this machine only, and runs actions only for callers
    # holding the shared secret (endpoints.yml sends it).
    os.environ.setdefault("SANIC_HOST", os.environ.get("ACTIONS_HOST", "127.0.0.1"))
    os.environ["ACTIONS_SECRET"] = local_secret("actions_secret", "ACTIONS_SECRET")
    # No default token: RASA_TOKEN, or one generated once into var/secrets/ (mode 0600).
    token_from_env = bool(os.environ.get("RASA_TOKEN", "").strip())
    token = local_secret("rasa_token", "RASA_TOKEN")
    if token in KNOWN_TOKENS:
        print("serve: RASA_TOKEN is a published example token; choose your own",
              file=sys.stderr)
        return 2
    os.environ["RASA_TOKEN"] = token
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    # Sanic refuses request bodies over 1 MB (a chat message is a few KB at most).
    os.environ.setdefault("SANIC_REQUEST_MAX_SIZE", str(1_000_000))
    cors = os.environ.get("RASA_CORS_ORIGINS", "").split()
    # The agent console: its own service on this machine, talking to the rasa API.
    console_port = os.environ.setdefault("CONSOLE_PORT", "5070")
    os.environ.setdefault("RASA_URL", f"http://127.0.0.1:{rasa_port}")
    # Secrets reach the servers through the environment (readable by this user only),
    # never their command lines (readable by every local user in `ps`).
    commands = [
        [PYTHON, ACTION_SERVER, "--actions", "actions", "--port", actions_port],
        [PYTHON, RASA_SERVER, "run", "--model", "models/current.tar.gz", "--interface", host,
         "--port", rasa_port, "--enable-api",
         *(["--cors", *cors] if cors else []),
         "--credentials", "credentials.yml", "--endpoints", "endpoints.yml"],
        # The agent console (console/): its own FastAPI service, reading Rasa's events.
        [PYTHON, "-m", "console"],
    ]
    processes = [subprocess.Popen(c, cwd=ROOT, start_new_session=True) for c in commands]

    def stop(*_: object) -> None:
        print("\nserve: stopping the servers", flush=True)
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    token_source = "$RASA_TOKEN" if token_from_env else str(secret_file("rasa_token"))
    status = f"http://localhost:{rasa_port}/status?token={token}"
    for _ in range(180):
        if healthy(status) and healthy(f"http://localhost:{actions_port}/health") and \
                healthy(f"http://localhost:{console_port}/console/"):
            break
        if any(p.poll() is not None for p in processes):
            print("serve: a server exited during start-up", file=sys.stderr)
            stop()
        time.sleep(1)
    print(f"""
  The assistant is running.
    REST:  curl -s -XPOST localhost:{rasa_port}/webhooks/rest/webhook \\
             -H 'Content-Type: application/json' \\
             -d '{{"sender":"u1","message":"我的收款码被限制了怎么办"}}'
    Chat widget demo page (open in a browser): http://localhost:{rasa_port}/widget/demo.html
      embed: <script src="http://localhost:{rasa_port}/widget/widget.js" defer></script>
    WeChat official account: POST localhost:{rasa_port}/webhooks/wechat/webhook
    API:   http://localhost:{rasa_port}/status?token=<token>
           the API token is in {token_source}
    Agent console (客服工作台): http://localhost:{console_port}/console/
      create an agent first: make agent USERNAME=wang NAME=小王
      API docs: http://localhost:{console_port}/console/api/docs
  Ctrl-C stops all servers.
""", flush=True)
    while all(p.poll() is None for p in processes):
        time.sleep(1)
    print("serve: a server exited", file=sys.stderr)
    stop()
    return 1


if __name__ == "__main__":
    sys.exit(main())
