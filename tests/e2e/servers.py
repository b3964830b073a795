"""Start the real action server and rasa server for end-to-end tests."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.conftest import PROJECT_ROOT

VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
# The launchers `make run` uses: the action server checks the shared secret, the rasa
# server takes its API token from RASA_TOKEN (no secret on a command line).
ACTION_SERVER = [str(VENV_BIN / "python"), str(PROJECT_ROOT / "scripts" / "action_server.py")]
RASA_SERVER = [str(VENV_BIN / "python"), str(PROJECT_ROOT / "scripts" / "rasa_server.py")]
# One action-server secret per test session, as every deployment has its own.
SESSION_ACTIONS_SECRET = secrets.token_urlsafe(32)
ACTIONS_HEADER = "X-Actions-Secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RasaProcess:
    """The rasa server of a test run; it can be stopped and started again on its port.

    ``warm_up(base_url)`` runs after every start (the first prediction loads lazily).
    """

    def __init__(self, command: list[str], env: dict[str, str], log: Path, url: str,
                 warm_up: Callable[[str], None] | None = None) -> None:
        self.command, self.env, self.log, self.url = command, env, log, url
        self.warm_up = warm_up
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.launch()
        self.ready()

    def launch(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                self.command, cwd=PROJECT_ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    def ready(self) -> None:
        """Waits until the server is healthy, then warms it up."""
        assert self.process is not None
        _wait(self.url, self.process, self.log)
        if self.warm_up is not None:
            self.warm_up(self.url.split("/status", 1)[0])

    def stop(self) -> None:
        if self.process is not None:
            _stop([self.process])
            self.process = None


@dataclass
class Servers:
    rasa_url: str
    actions_url: str
    token: str
    logs: dict[str, Path]
    rasa: RasaProcess | None = None
    db_url: str = ""
    actions_secret: str = ""  # what the action server requires in X-Actions-Secret

    def say(self, sender: str, message: str, timeout: float = 30) -> list[dict]:
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=timeout,
        )
        response.raise_for_status()
        return response.json()

    def texts(self, sender: str, message: str) -> str:
        return "\n".join(m.get("text", "") for m in self.say(sender, message))

    def tracker(self, sender: str) -> dict:
        response = requests.get(
            f"{self.rasa_url}/conversations/{sender}/tracker",
            params={"token": self.token}, timeout=10,
        )
        response.raise_for_status()
        return response.json()


def warm_up(rasa_url: str) -> None:
    """The first predictions after a start load lazily: two REST turns (whatever they
    answer), so that tests, with their deadlines (WeChat's 4 s passive reply, 30 s per
    request), measure normal turns."""
    for _ in range(2):
        requests.post(f"{rasa_url}/webhooks/rest/webhook", timeout=180,
                      json={"sender": f"warm-up-{uuid.uuid4().hex[:8]}", "message": "你好"})


def _wait(url: str, process: subprocess.Popen, log: Path, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early ({process.returncode}):\n"
                               f"{log.read_text(errors='replace')[-6000:]}")
        with suppress(requests.RequestException):
            if requests.get(url, timeout=2).ok:
                return
        time.sleep(0.5)
    raise RuntimeError(f"server not healthy after {seconds}s:\n"
                       f"{log.read_text(errors='replace')[-6000:]}")


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextmanager
def running_servers(
    workdir: Path,
    db_url: str,
    credentials: str = "addons.channels.rest.RestInput:\n",
    token: str = "e2e-token",
    extra_env: dict[str, str] | None = None,
    extra_endpoints: str = "",
    rasa_port: int | None = None,
    extra_rasa_args: list[str] | None = None,
    base_env: Mapping[str, str] | None = None,
    warm_up: Callable[[str], None] | None = None,
    actions_secret: str = SESSION_ACTIONS_SECRET,
) -> Iterator[Servers]:
    """An action server and a rasa server (API on) on free ports, stopped on exit.

    ``extra_endpoints`` is appended to endpoints.yml (e.g. a tracker store that survives
    a restart of the rasa server: ``Servers.rasa.stop()`` / ``.start()``). The servers'
    environment is ``base_env`` (default: this process's) without WECHAT_* variables,
    plus ``extra_env``. The action server runs actions only for callers sending
    ``actions_secret`` (endpoints.yml sends it, as the project's own does); the rasa
    server gets its API ``token`` from RASA_TOKEN.
    """
    if not MODEL.exists():
        raise RuntimeError("no trained model: run `make train` first")
    rasa_port, actions_port = rasa_port or free_port(), free_port()
    # Rasa fills in ${ACTIONS_SECRET} from its environment: the secret stays off the disk.
    (workdir / "endpoints.yml").write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{actions_port}/webhook\n"
        f"  headers:\n    {ACTIONS_HEADER}: ${{ACTIONS_SECRET}}\n{extra_endpoints}",
        encoding="utf-8",
    )
    (workdir / "credentials.yml").write_text(credentials, encoding="utf-8")
    env = {
        # The machine's own WeChat settings must not leak into the test channels.
        **{k: v for k, v in (base_env or os.environ).items() if not k.startswith("WECHAT_")},
        "MERCHANT_DB_URL": db_url,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        **(extra_env or {}),
        "ACTIONS_SECRET": actions_secret,
    }
    processes: list[subprocess.Popen] = []
    rasa: RasaProcess | None = None
    actions_log, rasa_log = workdir / "actions.log", workdir / "rasa.log"
    try:
        processes.append(subprocess.Popen(
            [*ACTION_SERVER, "--actions", "actions", "--port", str(actions_port)],
            cwd=PROJECT_ROOT, env={**env, "SANIC_HOST": "127.0.0.1"},
            stdout=actions_log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        ))
        rasa = RasaProcess(
            [*RASA_SERVER, "run", "--model", str(MODEL), "--port", str(rasa_port),
             "--enable-api", "--endpoints", str(workdir / "endpoints.yml"),
             "--credentials", str(workdir / "credentials.yml"), *(extra_rasa_args or [])],
            {**env, "RASA_TOKEN": token}, rasa_log,
            f"http://127.0.0.1:{rasa_port}/status?token={token}", warm_up,
        )
        rasa_log.write_text("", encoding="utf-8")
        rasa.launch()  # both load at the same time; the warm-up needs the action server
        _wait(f"http://127.0.0.1:{actions_port}/health", processes[0], actions_log)
        rasa.ready()
        yield Servers(f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{actions_port}",
                      token, {"actions": actions_log, "rasa": rasa_log}, rasa, db_url,
                      actions_secret)
    finally:
        if rasa is not None:
            rasa.stop()
        _stop(processes)
