"""The action server runs actions only for callers holding the shared secret
(penetration test 2, Medium 8 / F7: anyone on the host could POST to /webhook and run
any action as any sender). ``scripts/action_server.py`` is what `make run`, `make shell`
and the scaled setup start; the rasa side sends the header from endpoints.yml."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import PROJECT_ROOT
from tests.e2e.servers import _stop, _wait, free_port

SECRET = "actions-secret-for-this-test"
HEADER = "X-Actions-Secret"


@dataclass
class ActionServer:
    url: str
    log: Path


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    workdir = tmp_path_factory.mktemp("actions")
    port = free_port()
    env = {**os.environ, "ACTIONS_SECRET": SECRET, "SANIC_HOST": "127.0.0.1",
           "MERCHANT_DB_URL": f"sqlite:///{workdir / 'merchant.db'}",
           "LOCAL_SECRETS_DIR": str(workdir / "secrets")}
    log = workdir / "actions.log"
    process = subprocess.Popen(
        [sys.executable, "scripts/action_server.py", "--actions", "actions", "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        _wait(f"http://127.0.0.1:{port}/health", process, log, seconds=120)
        yield ActionServer(f"http://127.0.0.1:{port}", log)
    finally:
        _stop([process])


def action_call(action: str) -> dict:
    """What rasa posts to run ``action`` for sender ``victim`` (enough for the executor)."""
    return {"next_action": action, "sender_id": "victim", "version": "3.6.2",
            "domain": {}, "tracker": {"sender_id": "victim", "slots": {}, "events": [],
                                      "latest_message": {}, "active_loop": {}}}


@pytest.mark.parametrize("headers", [{}, {HEADER: ""}, {HEADER: "wrong"},
                                     {HEADER: SECRET + "x"}, {"X-Rest-Secret": SECRET}])
def test_calls_without_the_secret_are_refused_and_run_nothing(
        action_server: ActionServer, headers: dict[str, str]) -> None:
    before = action_server.log.read_text(errors="replace")
    response = requests.post(f"{action_server.url}/webhook", json=action_call("no_such_action"),
                             headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    listing = requests.get(f"{action_server.url}/actions", headers=headers, timeout=10)
    assert listing.status_code == 401
    # The executor never saw the call (it logs every unknown action it is asked for).
    new_lines = action_server.log.read_text(errors="replace")[len(before):]
    assert "no_such_action" not in new_lines


def test_the_secret_lets_the_call_through_and_health_stays_open(
        action_server: ActionServer) -> None:
    headers = {HEADER: SECRET}
    listing = requests.get(f"{action_server.url}/actions", headers=headers, timeout=10)
    assert listing.ok and {"name": "action_forget"} in listing.json()
    # Reaches the executor: an unknown action is its 404, not the check's 401.
    unknown = requests.post(f"{action_server.url}/webhook",
                            json=action_call("no_such_action"), headers=headers, timeout=10)
    assert unknown.status_code == 404
    assert requests.get(f"{action_server.url}/health", timeout=10).ok


@pytest.mark.parametrize("name", ["endpoints.yml", "endpoints.scaled.yml"])
def test_the_rasa_side_sends_the_secret_on_every_action_call(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa's EndpointConfig adds ``headers`` to every request of the action endpoint;
    the value comes from the environment (``${ACTIONS_SECRET}``)."""
    from rasa.utils.endpoints import read_endpoint_config

    text = (PROJECT_ROOT / name).read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    for variable in re.findall(r"\$\{(\w+)\}", text):  # the file's other settings
        monkeypatch.setenv(variable, "5055")
    monkeypatch.setenv("ACTIONS_SECRET", SECRET)
    assert raw["action_endpoint"]["headers"] == {HEADER: "${ACTIONS_SECRET}"}
    endpoint = read_endpoint_config(str(PROJECT_ROOT / name), "action_endpoint")
    assert endpoint is not None and endpoint.headers == {HEADER: SECRET}
