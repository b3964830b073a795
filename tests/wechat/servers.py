"""Real action server + rasa server with the WeChat channel, for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.conftest import PROJECT_ROOT
from tests.wechat.client import AES_KEY, APP_ID, TOKEN, wechat_send
from tests.wechat.fake_wechat import FakeWeChat

VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
API_TOKEN = "wechat-e2e-api-token"
APP_SECRET = "e2e-app-secret"
SLOW_APP_ID = "wx00000000000000slow"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def credentials(api_base: str) -> str:
    # Compatible mode: plaintext and encrypted pushes both work on the main channel.
    return f"""\
rest:
addons.channels.wechat.WeChatInput:
  token: {TOKEN}
  app_id: {APP_ID}
  app_secret: {APP_SECRET}
  encoding_aes_key: {AES_KEY}
  mode: compatible
  api_base: {api_base}
  reply_timeout_s: 4.0
tests.wechat.slow_channel.SlowWeChatInput:
  token: {TOKEN}
  app_id: {SLOW_APP_ID}
  app_secret: {APP_SECRET}
  api_base: {api_base}
  reply_timeout_s: 0.05
"""


@dataclass
class WeChatServers:
    rasa_url: str
    fake: FakeWeChat
    logs: dict[str, Path]

    def url(self, channel: str = "wechat") -> str:
        return f"{self.rasa_url}/webhooks/{channel}/webhook"

    def post(self, xml: str, aes: bool = False, channel: str = "wechat",
             **signing: Any) -> tuple[int, str]:
        query, body = wechat_send.signed_request(
            xml, TOKEN, AES_KEY if aes else "", APP_ID if aes else "", **signing
        )
        return self.post_raw(query, body, channel)

    def post_raw(self, query: dict[str, str], body: bytes,
                 channel: str = "wechat") -> tuple[int, str]:
        response = requests.post(self.url(channel), params=query, data=body, timeout=30,
                                 headers={"Content-Type": "text/xml"})
        return response.status_code, response.text

    def reply(self, xml: str, aes: bool = False) -> str:
        """The passive reply's Content (fails on anything but a 200 text reply)."""
        status, body = self.post(xml, aes=aes)
        assert status == 200, body
        if aes:
            assert "<Encrypt>" in body, body
            body = wechat_send.decode_reply(body, TOKEN, AES_KEY, APP_ID)
        text = wechat_send.reply_field(body)
        assert text, f"no text reply: {body!r}"
        return text

    def tracker(self, sender: str) -> dict[str, Any]:
        response = requests.get(f"{self.rasa_url}/conversations/{sender}/tracker",
                                params={"token": API_TOKEN}, timeout=10)
        response.raise_for_status()
        return response.json()

    def user_events(self, sender: str) -> list[dict[str, Any]]:
        return [e for e in self.tracker(sender).get("events", []) if e.get("event") == "user"]

    def log_tails(self, chars: int = 6000) -> dict[str, str]:
        return {name: path.read_text(errors="replace")[-chars:] for name, path in
                self.logs.items() if path.exists()}


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
def running_wechat_servers(workdir: Path, db_url: str) -> Iterator[WeChatServers]:
    if not MODEL.exists():
        raise RuntimeError("no trained model: run `make train` first")
    fake = FakeWeChat(app_secret=APP_SECRET).start()
    rasa_port, actions_port = free_port(), free_port()
    (workdir / "endpoints.yml").write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{actions_port}/webhook\n", encoding="utf-8"
    )
    (workdir / "credentials.yml").write_text(credentials(fake.url), encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WECHAT_")},
        "MERCHANT_DB_URL": db_url,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # The test-only SlowWeChatInput lives in tests/, which is not an installed package.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                    os.environ.get("PYTHONPATH")])),
    }
    logs = {"actions": workdir / "actions.log", "rasa": workdir / "rasa.log"}
    processes: list[subprocess.Popen] = []
    try:
        processes.append(subprocess.Popen(
            [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions",
             "--port", str(actions_port)],
            cwd=PROJECT_ROOT, env=env, stdout=logs["actions"].open("w"),
            stderr=subprocess.STDOUT, start_new_session=True,
        ))
        processes.append(subprocess.Popen(
            [str(VENV_BIN / "rasa"), "run", "--model", str(MODEL), "--port", str(rasa_port),
             "--enable-api", "--auth-token", API_TOKEN,
             "--endpoints", str(workdir / "endpoints.yml"),
             "--credentials", str(workdir / "credentials.yml")],
            cwd=PROJECT_ROOT, env=env, stdout=logs["rasa"].open("w"),
            stderr=subprocess.STDOUT, start_new_session=True,
        ))
        _wait(f"http://127.0.0.1:{actions_port}/health", processes[0], logs["actions"])
        _wait(f"http://127.0.0.1:{rasa_port}/status?token={API_TOKEN}", processes[1],
              logs["rasa"])
        yield WeChatServers(f"http://127.0.0.1:{rasa_port}", fake, logs)
    finally:
        _stop(processes)
        fake.stop()
