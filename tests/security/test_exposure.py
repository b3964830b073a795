"""What a fresh `make run` exposes: no known token, the API closed without one, the
servers on this machine only, CORS for configured origins only, no secret on a command
line, an action server that refuses callers without its shared secret, and files under
var/ readable by their owner only (penetration test 2, Medium 8)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
import uuid
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
    pid: int
    merchant_db: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """scripts/serve.py exactly as `make run` starts it (its own secrets directory)."""
    if not MODEL.exists():
        raise RuntimeError("no trained model: run `make train` first")
    workdir = tmp_path_factory.mktemp("serve")
    rasa_port, actions_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("RASA_TOKEN", "RASA_HOST", "RASA_CORS_ORIGINS", "SANIC_HOST",
                        "ACTIONS_SECRET")}
    # Free ports for all three (a `make run` on this machine may hold 5005/5055/5070).
    env.update(RASA_PORT=str(rasa_port), ACTIONS_PORT=str(actions_port),
               CONSOLE_PORT=str(free_port()),
               LOCAL_SECRETS_DIR=str(workdir / "secrets"),
               RASA_CORS_ORIGINS="https://help.example.com",
               MERCHANT_DB_URL=f"sqlite:///{workdir / 'merchant.db'}")
    # A permissive umask, as many shells have: the files must be private anyway.
    subprocess.run([sys.executable, "-m", "core.db", "init"], cwd=PROJECT_ROOT, env=env,
                   check=True, capture_output=True, umask=0o022)
    output = workdir / "serve.log"
    process = subprocess.Popen([str(PROJECT_ROOT / ".venv/bin/python"), "scripts/serve.py"],
                               cwd=PROJECT_ROOT, env=env, stdout=output.open("w"),
                               stderr=subprocess.STDOUT, start_new_session=True,
                               umask=0o022)
    try:
        deadline = time.monotonic() + 240
        while "The assistant is running" not in output.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(output.read_text(errors="replace")[-4000:])
            time.sleep(1)
        yield Served(rasa_port, actions_port, workdir / "secrets", output, process.pid,
                     workdir / "merchant.db")
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


def session_command_lines(session_id: int) -> list[list[str]]:
    """The argv of every process in the session serve.py leads (its servers and theirs:
    each server leads its own session, so children are found by parent too)."""
    parents: dict[int, int] = {}
    sessions: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)], sessions[int(entry.name)] = int(fields[1]), int(fields[3])
    family = {pid for pid, sid in sessions.items() if sid == session_id}
    while True:
        more = {pid for pid, parent in parents.items() if parent in family} - family
        if not more:
            break
        family |= more
    lines = []
    for pid in sorted(family):
        with suppress(OSError):
            raw = (Path("/proc") / str(pid) / "cmdline").read_bytes()
            lines.append([arg.decode(errors="replace") for arg in raw.split(b"\0") if arg])
    return lines


def test_no_secret_on_any_command_line(served: Served) -> None:
    """Every local user reads command lines (`ps`): the API token and the action server's
    secret reach the servers through their environment only."""
    token = (served.secrets / "rasa_token").read_text().strip()
    actions_secret = (served.secrets / "actions_secret").read_text().strip()
    lines = session_command_lines(served.pid)
    commands = " ".join(" ".join(line) for line in lines)
    # The three servers are there, found by what they run.
    assert "scripts/rasa_server.py" in commands and "scripts/action_server.py" in commands
    assert "-m console" in commands
    for line in lines:
        assert not any(token in arg or actions_secret in arg for arg in line), line
        assert "--auth-token" not in line


def test_the_action_server_refuses_callers_without_the_shared_secret(served: Served) -> None:
    url = f"http://127.0.0.1:{served.actions_port}"
    call = {"next_action": "action_forget", "sender_id": "victim", "version": "3.6.2",
            "domain": {}, "tracker": {"sender_id": "victim", "slots": {}, "events": []}}
    assert requests.post(f"{url}/webhook", json=call, timeout=10).status_code == 401
    assert requests.get(f"{url}/actions", timeout=10).status_code == 401
    secret = (served.secrets / "actions_secret").read_text().strip()
    assert stat.S_IMODE((served.secrets / "actions_secret").stat().st_mode) == 0o600
    assert requests.get(f"{url}/actions", headers={"X-Actions-Secret": secret},
                        timeout=10).ok


def test_the_rasa_server_reaches_its_actions_with_the_secret(served: Served) -> None:
    url = f"http://127.0.0.1:{served.rasa_port}/webhooks/rest/webhook"
    # Its own sender: the tracker store of `make run` (var/tracker.db) outlives the test.
    sender = f"exposure-{uuid.uuid4().hex[:12]}"

    def say(text: str) -> str:
        response = requests.post(url, json={"sender": sender, "message": text}, timeout=120)
        response.raise_for_status()
        return "\n".join(message.get("text", "") for message in response.json())

    assert "商户号" in (reply := say("帮我查一下账户状态")), reply
    assert "后4位" in (reply := say("1900000002")), reply
    # The account look-up ran in the action server.
    assert "限制收款" in (reply := say("0002")), reply


def test_files_under_var_are_the_owners_only(served: Served) -> None:
    """Started with umask 022: the databases (bound phones), secrets and their
    directories are 0600 / 0700 all the same."""
    var = PROJECT_ROOT / "var"
    assert stat.S_IMODE(served.merchant_db.stat().st_mode) == 0o600
    assert stat.S_IMODE(served.secrets.stat().st_mode) == 0o700
    for secret in served.secrets.iterdir():
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    # The tracker store and the event broker (endpoints.yml: var/tracker.db, var/events.db).
    for name in ("tracker.db", "events.db"):
        assert stat.S_IMODE((var / name).stat().st_mode) == 0o600, name
    # 0711 only while a scaled setup's nginx (user nobody) needs to pass through.
    expected = 0o711 if (var / "cluster" / "nginx").is_dir() else 0o700
    assert stat.S_IMODE(var.stat().st_mode) == expected
