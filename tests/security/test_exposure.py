"""What a fresh `make run` exposes: no known token, the API closed without one, the
servers on this machine only, CORS for configured origins only."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import PROJECT_ROOT
from tests.e2e.servers import MODEL, free_port

pytestmark = pytest.mark.e2e


@dataclass
class Served:
    rasa_port: int
    actions_port: int
    secrets: Path
    output: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """scripts/serve.py exactly as `make run` starts it (its own secrets directory)."""
    if not MODEL.exists():
        raise RuntimeError("no trained model: run `make train` first")
    workdir = tmp_path_factory.mktemp("serve")
    rasa_port, actions_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("RASA_TOKEN", "RASA_HOST", "RASA_CORS_ORIGINS", "SANIC_HOST")}
    # Free ports for all three (a `make run` on this machine may hold 5005/5055/5070).
    env.update(RASA_PORT=str(rasa_port), ACTIONS_PORT=str(actions_port),
               CONSOLE_PORT=str(free_port()),
               LOCAL_SECRETS_DIR=str(workdir / "secrets"),
               RASA_CORS_ORIGINS="https://help.example.com",
               MERCHANT_DB_URL=f"sqlite:///{workdir / 'merchant.db'}")
    subprocess.run([sys.executable, "-m", "core.db", "init"], cwd=PROJECT_ROOT, env=env,
                   check=True, capture_output=True)
    output = workdir / "serve.log"
    process = subprocess.Popen([str(PROJECT_ROOT / ".venv/bin/python"), "scripts/serve.py"],
                               cwd=PROJECT_ROOT, env=env, stdout=output.open("w"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while "The assistant is running" not in output.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(output.read_text(errors="replace")[-4000:])
            time.sleep(1)
        yield Served(rasa_port, actions_port, workdir / "secrets", output)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def test_the_token_is_generated_readable_by_the_owner_only(served: Served) -> None:
    token_file = served.secrets / "rasa_token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert len(token) >= 32 and token != "change-me-local-token"
    assert str(token_file) in served.output.read_text()  # where to find it is printed
    assert token not in served.output.read_text()


def test_the_api_refuses_no_token_and_the_old_default(served: Served) -> None:
    base = f"http://127.0.0.1:{served.rasa_port}"
    token = (served.secrets / "rasa_token").read_text().strip()
    assert requests.get(f"{base}/status", timeout=10).status_code == 401
    old = requests.get(f"{base}/status", params={"token": "change-me-local-token"}, timeout=10)
    assert old.status_code == 401
    tracker = requests.get(f"{base}/conversations/someone/tracker", timeout=10)
    assert tracker.status_code == 401
    assert requests.get(f"{base}/status", params={"token": token}, timeout=10).ok


def test_cors_only_for_configured_origins(served: Served) -> None:
    url = f"http://127.0.0.1:{served.rasa_port}/webhooks/rest/webhook"
    for origin, allowed in (("https://help.example.com", True),
                            ("https://evil.example.net", False)):
        response = requests.options(url, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST"}, timeout=10)
        header = response.headers.get("Access-Control-Allow-Origin")
        assert (header == origin) is allowed, (origin, header)
        assert header != "*"


def test_both_servers_listen_on_this_machine_only(served: Served) -> None:
    listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
    for port in (served.rasa_port, served.actions_port):
        lines = [line for line in listening.splitlines() if f":{port} " in line]
        assert lines and all("127.0.0.1:" in line for line in lines), lines


def test_request_bodies_are_capped(served: Served) -> None:
    url = f"http://127.0.0.1:{served.rasa_port}/webhooks/rest/webhook"
    huge = b'{"sender": "big", "message": "' + b"a" * 2_000_000 + b'"}'
    response = requests.post(url, data=huge, headers={"Content-Type": "application/json"},
                             timeout=30)
    assert response.status_code == 413
